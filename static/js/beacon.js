// The drop page's view beacon (docs/ranking.md, "Most viewed"): a small POST of its own, so views
// count even when the page itself comes from a cache. The browser keeps a random visitor id and a
// lot drawn once in localStorage; a visitor whose lot is under p (data-p) sends a beacon for every
// view, the others never do, and the server counts each beacon as 1/p views (once a minute per
// visitor and drop).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !navigator.sendBeacon) return;
  var p = parseFloat(script.dataset.p);
  if (!(p > 0)) return;

  function randomId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  var visitor, lot;
  try {
    visitor = localStorage.getItem("fc-visitor");
    lot = parseFloat(localStorage.getItem("fc-visitor-lot"));
    if (!visitor || !/^[A-Za-z0-9_-]{8,64}$/.test(visitor) || !(lot >= 0 && lot < 1)) {
      visitor = randomId();
      lot = Math.random();
      localStorage.setItem("fc-visitor", visitor);
      localStorage.setItem("fc-visitor-lot", String(lot));
    }
  } catch (e) {  // storage blocked (a private window): this page view is its own visitor
    visitor = randomId();
    lot = Math.random();
  }
  if (lot >= p) return;
  // a string goes as text/plain: no CORS preflight, and the server reads it as JSON
  navigator.sendBeacon(script.dataset.url, JSON.stringify({ campaign: script.dataset.campaign, visitor: visitor }));
})();
