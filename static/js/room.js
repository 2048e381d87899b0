// Waiting page: poll at the server's poll_after and update the numbers in place. The page
// reloads only when the user's outcome or the room's state differs from what it shows, so
// a closed room never makes it reload in a loop.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root) return;
  var outcome = root.dataset.outcome;
  var state = root.dataset.state;
  if (outcome === "admitted" || outcome === "absent") return;
  var final = state === "closed" || state === "sold_out";
  var field = function (name) { return root.querySelector('[data-field="' + name + '"]'); };
  var start = null;

  function poll() {
    fetch(root.dataset.statusApi, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (s.outcome !== outcome || s.state !== state) { window.location.reload(); return; }
        if (field("position")) {
          field("position").textContent = s.position.toLocaleString();
          field("ahead").textContent = s.ahead.toLocaleString();
          field("size").textContent = s.size.toLocaleString();
          field("eta").textContent = s.eta_seconds === null ? "–" : s.eta_seconds;
          if (start === null || s.ahead > start) start = s.ahead;
          field("progress").style.width = (start ? 100 * (start - s.ahead) / start : 0) + "%";
        }
        setTimeout(poll, (final ? 30 : Math.max(1, s.poll_after)) * 1000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, (final ? 30 : Math.max(1, parseInt(root.dataset.pollAfter, 10))) * 1000);
})();
