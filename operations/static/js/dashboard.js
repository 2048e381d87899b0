// The dashboard's controls (no inline handlers: the Content-Security-Policy allows scripts from files only).
(function () {
  "use strict";
  document.querySelectorAll("[data-submit-on-change]").forEach(function (control) {
    control.addEventListener("change", function () { control.form.submit(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();

// Live dashboard: polls the campaign's numbers every second and turns counters into rates.
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || !window.Chart) return;
  var labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  var field = function (name) { return root.querySelector('[data-field="' + name + '"]'); };
  var status = document.querySelector('[data-field="status"]');
  var POINTS = 120; // two minutes at one poll a second
  // Times on the site's clock (TIME_ZONE), whatever the browser's zone: the numbers staff compare are the server's.
  var zone = root.dataset.timeZone || "UTC";
  var timeFormat = new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  function clockTime(ms) { return timeFormat.format(new Date(ms)); }
  var OUTCOMES = ["accepted", "duplicate", "sold_out", "rate_limited", "other"];
  var COLORS = { accepted: "#157f3b", duplicate: "#3b82f6", sold_out: "#a35a00", rate_limited: "#b42318", other: "#6b7280",
                 pending: "#a35a00", succeeded: "#157f3b", failed: "#b42318", remaining: "#3b82f6",
                 queued: "#6b7280", active: "#157f3b", admissions: "#3b82f6" };

  function chart(id, series) {
    var canvas = document.getElementById(id);
    if (!canvas) return null;
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: series.map(function (name) {
        return { label: labels[name] || name, key: name, data: [], borderColor: COLORS[name], backgroundColor: COLORS[name],
                 pointRadius: 0, borderWidth: 2, tension: 0.2 };
      }) },
      options: { animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
                 scales: { y: { beginAtZero: true } }, plugins: { legend: { position: "bottom" } } }
    });
  }
  var charts = {
    claims: chart("chart-claims", OUTCOMES),
    grants: chart("chart-grants", ["pending", "succeeded", "failed", "remaining"]),
    room: chart("chart-room", ["queued", "active", "admissions"])
  };

  function push(c, time, values) {
    if (!c) return;
    c.data.labels.push(time);
    c.data.datasets.forEach(function (d) { d.data.push(values[d.key] || 0); });
    if (c.data.labels.length > POINTS) { c.data.labels.shift(); c.data.datasets.forEach(function (d) { d.data.shift(); }); }
    c.update("none");
  }
  function sum(obj) { return Object.keys(obj).reduce(function (a, k) { return a + obj[k]; }, 0); }
  function byOutcome(claims) {
    var out = { other: 0 };
    Object.keys(claims).forEach(function (k) { if (OUTCOMES.indexOf(k) >= 0) out[k] = claims[k]; else out.other += claims[k]; });
    return out;
  }
  function show(name, value) { var el = field(name); if (el) el.textContent = value === null || value === undefined ? "–" : value.toLocaleString(); }

  var last = null;
  function poll() {
    fetch(root.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (now) {
        // a seat campaign answers holds: a held seat is its "accepted"
        var answers = Object.assign({}, now.claims);
        Object.keys(now.holds).forEach(function (k) {
          var key = k === "held" ? "accepted" : k;
          answers[key] = (answers[key] || 0) + now.holds[k];
        });
        var claims = byOutcome(answers);
        var time = clockTime(now.at_ms);
        if (last) {
          var seconds = Math.max((now.at_ms - last.at_ms) / 1000, 0.001);
          var rates = {};
          // a Redis restart resets the counters: a negative step counts as zero
          OUTCOMES.forEach(function (k) { rates[k] = Math.max(0, ((claims[k] || 0) - (last.claims[k] || 0)) / seconds); });
          push(charts.claims, time, rates);
          show("claims_rate", Math.round(sum(rates)));
          if (now.room) {
            var admitted = Math.max(0, (now.room.admitted - (last.room ? last.room.admitted : now.room.admitted)) / seconds);
            push(charts.room, time, { queued: now.room.queued, active: now.room.active, admissions: admitted });
            show("admission_rate", Math.round(admitted * 10) / 10);
          }
        }
        push(charts.grants, time, { pending: now.grants.pending, succeeded: now.grants.succeeded, failed: now.grants.failed,
                                    remaining: now.remaining });
        show("accepted", claims.accepted || 0);
        show("remaining", now.remaining);
        show("pending", now.grants.pending);
        show("succeeded", now.grants.succeeded);
        show("failed", now.grants.failed);
        if (now.room) { show("queued", now.room.queued); show("active", now.room.active); }
        if (status) { status.dataset.ok = "1"; status.textContent = labels.updated + " " + time + " (" + zone + ")"; }
        if (root.dataset.follow === "1" && now.newest_live_id && String(now.newest_live_id) !== root.dataset.campaignId) {
          if (status) status.textContent = labels.newer;
          window.location.reload(); // the page without ?campaign= shows the newest live campaign
          return;
        }
        last = { at_ms: now.at_ms, claims: claims, room: now.room };
      })
      .catch(function () { if (status) { status.dataset.ok = "0"; status.textContent = labels.unavailable; } })
      .finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
