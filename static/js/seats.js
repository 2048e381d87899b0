// Seat map: refreshes every 2 s, holds a seat on click, shows a countdown, confirms or releases.
(function () {
  "use strict";
  var root = document.getElementById("seatmap");
  if (!root) return;
  var base = root.dataset.base;
  var holdText = root.querySelector('[data-field="hold"]');
  var actions = root.querySelector('[data-field="actions"]');
  var current = null; // {label, token, expires}
  // the waiting room's pass, when the room sent us here: used by the first hold
  var accessPass = new URLSearchParams(window.location.search).get("pass");
  if (accessPass && window.history.replaceState) window.history.replaceState(null, "", window.location.pathname);

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function post(path, body) {
    return fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {})
    }).then(function (r) { return r.text().then(function (t) { return { status: r.status, body: t ? JSON.parse(t) : {} }; }); });
  }
  function render(list) {
    list.forEach(function (s) {
      var el = root.querySelector('.seat[data-label="' + s.label + '"]');
      if (!el) return;
      el.className = "seat seat--" + s.state;
      el.disabled = s.state === "sold" || s.state === "held" || root.dataset.authenticated !== "1";
      if (s.state === "mine") current = { label: s.label, token: s.token, expires: s.expires_ms };
    });
  }
  function refresh() {
    fetch(root.dataset.seatsApi, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; }).then(render).catch(function () {})
      .finally(function () { setTimeout(refresh, 2000); });
  }
  function tick() {
    if (current) {
      var left = Math.max(0, Math.round((current.expires - Date.now()) / 1000));
      holdText.textContent = left > 0
        ? interpolate(gettext("Seat %s is yours for %s"), [current.label, Math.floor(left / 60) + ":" + ("0" + left % 60).slice(-2)])
        : interpolate(gettext("Your hold on %s expired."), [current.label]);
      actions.hidden = left <= 0;
      if (left <= 0) current = null;
    }
    setTimeout(tick, 1000);
  }
  root.addEventListener("click", function (event) {
    var seat = event.target.closest(".seat[data-label]");
    if (seat && !seat.disabled) {
      post(seat.dataset.label + "/hold/", accessPass ? { access_pass: accessPass } : {}).then(function (res) {
        if (res.body.code !== "admission_required") accessPass = null;
        if (res.status === 200) { current = { label: res.body.label, token: res.body.token, expires: res.body.expires_ms }; }
        else if (res.body.room_url) window.location.href = res.body.room_url;
        else holdText.textContent = res.body.detail || gettext("That seat is not available.");
      });
      return;
    }
    var action = event.target.dataset.action;
    if (!action || !current) return;
    post(current.label + "/" + action + "/", { token: current.token }).then(function (res) {
      if (action === "confirm" && (res.status === 201 || res.status === 200)) { holdText.textContent = interpolate(gettext("Seat %s is yours. Enjoy the show!"), [current.label]); actions.hidden = true; current = null; }
      else if (action === "release") { holdText.textContent = gettext("Released."); actions.hidden = true; current = null; }
      else holdText.textContent = res.body.detail || gettext("Something went wrong.");
    });
  });
  root.querySelectorAll(".seat[data-token]").forEach(function (el) {
    current = { label: el.dataset.label, token: Number(el.dataset.token), expires: Number(el.dataset.expires) };
  });
  refresh();
  tick();
})();
