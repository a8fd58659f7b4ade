// A link page's opening: once per page view, when a person has had the page in front of them for a second,
// the script posts to the link's /opened (join analytics). Fetching the page records nothing, since mail
// scanners fetch every link of an email; a scanner that runs scripts in a hidden page, or leaves within the
// second, records nothing either. A headless browser that keeps the page "visible" for a second is not told
// apart from a person.
(function () {
  var DWELL_MS = 1000;
  var openedUrl = location.pathname.replace(/\/$/, '') + '/opened';
  var sent = false, timer = null;

  function send() {
    if (sent || document.visibilityState !== 'visible') return;
    sent = true;
    // keepalive: a person who leaves right after the second is still counted.
    fetch(openedUrl, { method: 'POST', credentials: 'omit', keepalive: true }).catch(function () {});
  }

  // The second counts again from each time the page becomes visible: a page opened in a background tab is
  // recorded when the person looks at it.
  function watch() {
    clearTimeout(timer);
    if (!sent && document.visibilityState === 'visible') timer = setTimeout(send, DWELL_MS);
  }

  document.addEventListener('visibilitychange', watch);
  watch();
})();
