// Waiting page: keep the numbers up to date in place. In the front zone the page polls its own
// status (the heartbeat: issue 21); further back it reads the room's line document, the same for
// everyone and kept by the proxy for a second, and places itself in it with the arrival score of
// its ticket. The page reloads only when the user's outcome or the room's state differs from
// what it shows, so a closed room never makes it reload in a loop.
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
  var score = root.dataset.score ? Number(root.dataset.score) : null;
  var json = { headers: { Accept: "application/json" }, credentials: "same-origin" };

  // Show a place (from a status answer or from the line document); false when the page must reload.
  function update(s) {
    if (s.outcome !== outcome || s.state !== state) { window.location.reload(); return false; }
    if (field("position") && s.position) {
      field("position").textContent = s.position.toLocaleString();
      field("ahead").textContent = s.ahead.toLocaleString();
      field("size").textContent = s.size.toLocaleString();
      field("eta").textContent = s.eta_seconds === null ? "–" : s.eta_seconds;
      if (start === null || s.ahead > start) start = s.ahead;
      field("progress").style.width = (start ? 100 * (start - s.ahead) / start : 0) + "%";
    }
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
