// The waiting page's script. It counts down on the server's clock (the page carries the server's time:
// a device's own clock is often off by a minute or more) and polls the link's state while the page is
// visible. When the page's phase ends (the start, or the meeting started early, cancelled, ...) it loads
// the page again with a GET, which shows what the link is now. It posts the join form only on the page
// that answered the person's own click on "Join when it starts" (data-auto-join): a mail scanner that
// runs this script without clicking never gets past a GET.
(function () {
  var POLL_MS = 2000;
  var countdown = document.getElementById('countdown');
  var start = Date.parse(countdown.getAttribute('data-start'));
  var waitingEnds = Date.parse(countdown.getAttribute('data-waiting-ends'));
  var phase = countdown.getAttribute('data-phase');
  var started = countdown.getAttribute('data-started') === 'true';
  var autoJoin = countdown.hasAttribute('data-auto-join');
  // How far the device's clock is behind the server's: measured with the page, refined by each poll.
  // The server's time had aged by the time it arrived, so each measure errs late, never early; the
  // largest is the closest, and the page never opens before the server would.
  var offset = -Infinity;
  function learnOffset(serverMs) {
    offset = Math.max(offset, serverMs - Date.now());
  }
  learnOffset(Number(countdown.getAttribute('data-server-now')));
  var stateUrl = location.pathname.replace(/\/$/, '') + '/state';
  var changing = false, pollTimer = null, tickTimer = null;

  function serverNow() {
    return Date.now() + offset;
  }

  function change() {
    if (changing) return;
    changing = true;
    var form = document.querySelector('form');
    if (autoJoin && form) {
      form.submit();
    } else {
      location.replace(location.href);
    }
  }

  function show() {
    var seconds = Math.max(0, Math.ceil((start - serverNow()) / 1000));
    var days = Math.floor(seconds / 86400), hours = Math.floor(seconds % 86400 / 3600);
    var minutes = Math.floor(seconds % 3600 / 60);
    countdown.textContent = seconds === 0 ? 'Starting now' : 'Starts in ' + (days ? days + ' d ' : '') +
      (days || hours ? hours + ' h ' : '') + (days || hours || minutes ? minutes + ' min ' : '') + seconds % 60 + ' s';
  }

  // Ticks on the server's second boundaries, so that the page changes at the second it is due.
  function tick() {
    show();
    var untilChange = waitingEnds - serverNow();
    if (phase === 'waiting' && untilChange <= 0) {
      change();
      return;
    }
    var untilNextSecond = (start - serverNow()) % 1000;
    if (untilNextSecond <= 0) untilNextSecond += 1000;
    var wait = phase === 'waiting' ? Math.min(untilNextSecond, Math.max(untilChange, 0)) : untilNextSecond;
    tickTimer = setTimeout(tick, wait);
  }

  function poll() {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (document.visibilityState !== 'visible' || changing) return;
    fetch(stateUrl, {cache: 'no-store', credentials: 'omit'}).then(function (answer) {
      if (answer.status === 404) return {gone: true};
      return answer.ok ? answer.json() : null;  // a failed poll is tried again at the next one
    }).then(function (state) {
      if (state && state.server_now) learnOffset(Date.parse(state.server_now));
      if (state && (state.gone || state.state !== phase || state.started !== started)) change();
    }, function () {}).then(function () {
      if (!changing && pollTimer === null && document.visibilityState === 'visible') {
        pollTimer = setTimeout(poll, POLL_MS);
      }
    });
  }

  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') {
      clearTimeout(tickTimer);
      tick();
      poll();
    } else {
      clearTimeout(pollTimer);
      pollTimer = null;
    }
  });

  var deviceTime = document.getElementById('device-time');
  var deviceZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (deviceZone && deviceZone !== deviceTime.getAttribute('data-zone')) {
    deviceTime.textContent = 'On this device: ' + new Date(start).toLocaleString([], {
      weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', timeZoneName: 'short'
    });
    deviceTime.hidden = false;
  }
  tick();
  pollTimer = setTimeout(poll, POLL_MS);
})();
