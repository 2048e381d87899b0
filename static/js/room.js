// Waiting page: poll at the server's poll_after and update the numbers in place. The page
// reloads only when the user's outcome or the room's state differs from what it shows, so
// a closed room never makes it reload in a loop. Once admitted, the pass's time counts down.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root) return;
  var outcome = root.dataset.outcome;
  var state = root.dataset.state;
  var field = function (name) { return root.querySelector('[data-field="' + name + '"]'); };
  // where the user stood when first seen in line (the server remembers it across reloads)
  var start = Number(root.dataset.start) || null;

  // --- what the page shows (render and countdown; the polling below only calls them) ---
  function render(s) {
    if (!field("position")) return;
    field("position").textContent = s.position.toLocaleString();
    field("ahead").textContent = s.ahead.toLocaleString();
    field("size").textContent = s.size.toLocaleString();
    if (s.eta_words) field("eta").textContent = s.eta_words;
    if (start === null || s.ahead > start) start = s.ahead;
    var progress = start ? Math.round(100 * (start - s.ahead) / start) : 0;
    field("progress").style.width = progress + "%";
    field("progress").parentNode.setAttribute("aria-valuenow", progress);
  }
  function passCountdown() {
    // the pass's time left, every second; at zero the claim button gives way to "join again"
    var expires = Number(root.dataset.passExpires);
    var left = field("pass-left");
    if (!expires || !left) return;
    function tick() {
      var seconds = Math.max(0, Math.round((expires - Date.now()) / 1000));
      left.textContent = Math.floor(seconds / 60) + ":" + ("0" + seconds % 60).slice(-2);
      if (seconds > 0) { setTimeout(tick, 1000); return; }
      field("admitted").hidden = true;
      field("expired").hidden = false;
    }
    tick();
  }

  if (outcome === "admitted") { passCountdown(); return; }
  if (outcome === "absent" || outcome === "anonymous") return;
  var final = state === "closed" || state === "sold_out";

  function poll() {
    fetch(root.dataset.statusApi, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (s.outcome !== outcome || s.state !== state) { window.location.reload(); return; }
        render(s);
        setTimeout(poll, (final ? 30 : Math.max(1, s.poll_after)) * 1000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, (final ? 30 : Math.max(1, parseInt(root.dataset.pollAfter, 10))) * 1000);
})();
