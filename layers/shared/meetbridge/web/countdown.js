// The waiting page's countdown, on the viewer's own clock. It only shows time: the page's refresh
// brings the button once the meeting opens, and nothing here acts for the person.
(function () {
  var countdown = document.getElementById('countdown');
  var start = Date.parse(countdown.getAttribute('data-start'));
  var deviceTime = document.getElementById('device-time');
  var deviceZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (deviceZone && deviceZone !== deviceTime.getAttribute('data-zone')) {
    deviceTime.textContent = 'On this device: ' + new Date(start).toLocaleString([], {
      weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', timeZoneName: 'short'
    });
    deviceTime.hidden = false;
  }
  function show() {
    var seconds = Math.max(0, Math.round((start - Date.now()) / 1000));
    var hours = Math.floor(seconds / 3600), minutes = Math.floor(seconds % 3600 / 60);
    countdown.textContent = seconds === 0 ? 'Starting now' : 'Starts in ' + (hours ? hours + ' h ' : '') +
      (hours || minutes ? minutes + ' min ' : '') + seconds % 60 + ' s';
  }
  show();
  setInterval(show, 1000);
})();
