// Waiting page: poll at the server's poll_after; update numbers in place; reload on a change of state.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root) return;
  var outcome = root.dataset.outcome;
  if (outcome === "admitted" || outcome === "absent") return;
  var field = function (name) { return root.querySelector('[data-field="' + name + '"]'); };
  var start = null;

  function poll() {
    fetch(root.dataset.statusApi, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (s.outcome !== outcome || s.state === "sold_out" || s.state === "closed") { window.location.reload(); return; }
        if (field("position")) {
          field("position").textContent = s.position.toLocaleString();
          field("ahead").textContent = s.ahead.toLocaleString();
          field("size").textContent = s.size.toLocaleString();
          field("eta").textContent = s.eta_seconds === null ? "–" : s.eta_seconds;
          if (start === null || s.ahead > start) start = s.ahead;
          field("progress").style.width = (start ? 100 * (start - s.ahead) / start : 0) + "%";
        }
        setTimeout(poll, Math.max(1, s.poll_after) * 1000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, Math.max(1, parseInt(root.dataset.pollAfter, 10)) * 1000);
})();
