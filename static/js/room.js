// Waiting page: keep the numbers up to date in place. In the front zone the page polls its own
// status (the heartbeat: issue 21); further back it reads the room's line document, the same for
// everyone and kept by the proxy for a second, and places itself in it with the arrival score of
// its ticket. The page reloads only when the user's outcome or the room's state differs from
// what it shows, so a closed room never makes it reload in a loop. Once admitted, the pass's
// time counts down.
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root) return;
  var outcome = root.dataset.outcome;
  var state = root.dataset.state;
  var field = function (name) { return root.querySelector('[data-field="' + name + '"]'); };
  // where the user stood when first seen in line (the server remembers it across reloads)
  var start = Number(root.dataset.start) || null;
  var score = root.dataset.score ? Number(root.dataset.score) : null;
  var json = { headers: { Accept: "application/json" }, credentials: "same-origin" };

  // --- what the page shows (render and countdown; the polling below only calls them) ---
  // A wait in words where the answer carries none (the line document is the same for every
  // language): the browser's own words for "in 4 minutes", rounded as the server rounds.
  var relative = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "always" }) : null;
  function waitWords(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (!relative) return seconds + " s";
    if (seconds < 60) return relative.format(Math.max(10, Math.round(seconds / 10) * 10), "second");
    if (seconds < 3600) return relative.format(Math.round(seconds / 60), "minute");
    return relative.format(Math.round(seconds / 360) / 10, "hour");
  }
  function render(s) {
    if (!field("position") || !s.position) return;
    field("position").textContent = s.position.toLocaleString();
    field("ahead").textContent = s.ahead.toLocaleString();
    field("size").textContent = s.size.toLocaleString();
    field("eta").textContent = s.eta_words || waitWords(s.eta_seconds);
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

  // Show a place (from a status answer or from the line document); false when the page must reload.
  function update(s) {
    if (s.outcome !== outcome || s.state !== state) { window.location.reload(); return false; }
    render(s);
    return true;
  }

  function later(next, seconds) {
    setTimeout(next, (final ? 30 : Math.max(1, seconds)) * 1000);
  }

  // The arrival score of a ticket: its payload is readable base64url JSON before the first colon.
  function scoreOf(ticket) {
    try {
      var payload = ticket.split(":")[0].replace(/-/g, "+").replace(/_/g, "/");
      while (payload.length % 4) payload += "=";
      return Number(JSON.parse(atob(payload)).s);
    } catch (e) { return score; }
  }

  // Where the line document puts this score: null when the page must poll status (front zone,
  // served, or no score), else the middle of the two marks around it (within max(100, 1%)).
  function locate(line) {
    if (score === null || line.front_score === null || score <= line.front_score) return null;
    var marks = line.marks, i = marks.length - 1;
    while (i >= 0 && marks[i].score > score) i--;
    if (i < 0) return null;
    var low = marks[i], next = marks[i + 1];
    var high = next ? next.position - 1 : low.position;
    var position = Math.floor((low.position + high) / 2);
    var eta = low.eta_seconds;
    if (next && eta !== null && next.eta_seconds !== null) {
      eta = Math.round(eta + (next.eta_seconds - eta) * (position - low.position) / (next.position - low.position));
    }
    return { position: position, eta: eta, after: low.after };
  }

  function poll() {
    fetch(root.dataset.statusApi, json)
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (s) {
        if (s.ticket) score = scoreOf(s.ticket);
        if (!update(s)) return;
        later(s.front ? poll : readLine, s.poll_after);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  function readLine() {
    fetch(root.dataset.lineApi, json)
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (line) {
        if (!line.marks.length && line.state === state) { later(readLine, line.poll_after); return; }
        var place = locate(line);
        if (place === null) { poll(); return; }
        var shown = { outcome: outcome, state: line.state, position: place.position, ahead: place.position - 1,
                      size: line.size, eta_seconds: place.eta };
        if (update(shown)) later(readLine, place.after);
      })
      .catch(function () { setTimeout(readLine, 5000); });
  }

  later(root.dataset.front === "1" ? poll : readLine, parseInt(root.dataset.pollAfter, 10));
})();
