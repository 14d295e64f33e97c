// Loaded before app.js: every uncaught error or rejected promise on the page is
// listed in #js-errors and counted in <body data-js-errors>, so a headless
// browser test (and a person) sees it.
'use strict';
(function () {
  var count = 0;
  function report(msg) {
    count++;
    var show = function () {
      var box = document.getElementById('js-errors');
      if (!box) { return; }
      var li = document.createElement('li');
      li.textContent = msg;
      box.appendChild(li);
      box.hidden = false;
      document.body.setAttribute('data-js-errors', String(count));
    };
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', show);
    } else {
      show();
    }
  }
  window.bouncedReportError = report;
  window.addEventListener('error', function (e) {
    report('error: ' + (e.message || String(e)) + (e.filename ? ' at ' + e.filename + ':' + e.lineno + ':' + e.colno : ''));
  });
  window.addEventListener('unhandledrejection', function (e) {
    var r = e.reason;
    report('unhandled rejection: ' + (r && r.stack ? r.stack : String(r)));
  });
})();
