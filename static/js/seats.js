// Seat map: refreshes every 2 s, holds a seat on click, counts the hold down, confirms or releases.
// A refusal stays on screen until the user acts again; the countdown never writes over it.
(function () {
  "use strict";
  var root = document.getElementById("seatmap");
  if (!root) return;
  var base = root.dataset.base;
  var field = function (name) { return root.querySelector('[data-field="' + name + '"]'); };
  var holdText = field("hold");
  var summary = field("summary");
  var countdownText = field("countdown");
  var totalText = field("total");
  var errorText = field("error");
  var actions = field("actions");
  var balance = Number(root.dataset.balance || 0);
  var STATES = ["free", "held", "mine", "sold", "bought"];
  var current = null; // {label, token, expires, price}
  // the waiting room's pass, when the room sent us here: used by the first hold
  var accessPass = new URLSearchParams(window.location.search).get("pass");
  if (accessPass && window.history.replaceState) window.history.replaceState(null, "", window.location.pathname);

  function krw(amount) {
    return interpolate(pgettext("money", "%s KRW"), [Number(amount).toLocaleString("en-US")]);
  }
  function stateWords(state) {
    if (state === "mine") return gettext("held by you");
    if (state === "bought") return gettext("yours");
    if (state === "held" || state === "sold") return gettext("taken");
    return gettext("free");
  }
  function seatEl(label) { return root.querySelector('.seat[data-label="' + label + '"]'); }
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

  // --- what the page shows --------------------------------------------------
  function showError(text) { errorText.textContent = text; errorText.hidden = false; }
  function clearError() { errorText.textContent = ""; errorText.hidden = true; }
  function setSeat(el, state) {
    STATES.forEach(function (s) { el.classList.remove("seat--" + s); });
    el.classList.add("seat--" + state);
    el.disabled = state === "sold" || state === "held" || state === "bought" || root.dataset.authenticated !== "1";
    el.setAttribute("aria-label", interpolate(gettext("Seat %s, %s, %s, %s"),
      [el.dataset.label, el.dataset.section, el.dataset.priceText, stateWords(state)]));
  }
  function showHold() {
    // the panel for the seat held: which seat, its price, what the wallet keeps, the buttons
    var el = seatEl(current.label);
    current.price = el ? Number(el.dataset.price) : current.price;
    holdText.innerHTML = "";
    var strong = document.createElement("strong");
    strong.textContent = current.label;
    holdText.append(gettext("Seat") + " ", strong, " · " + krw(current.price));
    totalText.textContent = interpolate(gettext("Total %s · your balance after: %s"),
      [krw(current.price), krw(balance - current.price)]);
    summary.hidden = false;
    actions.hidden = false;
    countdown();
  }
  function endHold(text) {
    current = null;
    holdText.textContent = text;
    summary.hidden = true;
    actions.hidden = true;
  }
  function render(list) {
    list.forEach(function (s) {
      var el = seatEl(s.label);
      if (!el) return;
      setSeat(el, s.state);
      if (s.state === "mine" && (!current || current.label !== s.label)) {
        current = { label: s.label, token: s.token, expires: s.expires_ms, price: s.price };
        showHold();
      }
    });
  }
  function countdown() {
    // the hold's time left, every second; at zero the hold is over (the error line is left alone)
    if (!current) return;
    var left = Math.max(0, Math.round((current.expires - Date.now()) / 1000));
    if (left > 0) {
      countdownText.textContent = interpolate(gettext("Held for you for %s"),
        [Math.floor(left / 60) + ":" + ("0" + left % 60).slice(-2)]);
    } else {
      var el = seatEl(current.label);
      if (el) setSeat(el, "free");
      endHold(interpolate(gettext("Your hold on %s expired. Tap a seat to hold it again."), [current.label]));
    }
  }

  // --- talking to the server ------------------------------------------------
  function refresh() {
    fetch(root.dataset.seatsApi, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; }).then(render).catch(function () {})
      .finally(function () { setTimeout(refresh, 2000); });
  }
  function hold(seat) {
    post(seat.dataset.label + "/hold/", accessPass ? { access_pass: accessPass } : {}).then(function (res) {
      if (res.body.code !== "admission_required") accessPass = null;
      if (res.status === 200) {
        if (current && current.label !== res.body.label && seatEl(current.label)) setSeat(seatEl(current.label), "free");
        current = { label: res.body.label, token: res.body.token, expires: res.body.expires_ms, price: Number(seat.dataset.price) };
        setSeat(seat, "mine");
        showHold();
      } else if (res.body.room_url) {
        window.location.href = res.body.room_url;
      } else {
        if (res.body.code === "seat_taken") setSeat(seat, "held");
        showError(res.body.detail || gettext("That seat is not available."));
      }
    }).catch(function () { showError(gettext("Something went wrong; try again.")); });
  }
  function act(action) {
    var held = current;
    post(held.label + "/" + action + "/", { token: held.token }).then(function (res) {
      var el = seatEl(held.label);
      if (action === "confirm" && (res.status === 201 || res.status === 200)) {
        if (res.status === 201) balance -= held.price;
        var balanceText = field("balance");
        if (balanceText) balanceText.textContent = krw(balance);
        if (el) setSeat(el, "bought");
        endHold(interpolate(gettext("Seat %s is yours: %s paid. Enjoy the show!"), [held.label, krw(held.price)]));
      } else if (action === "release" && res.status < 300) {
        if (el) setSeat(el, "free");
        endHold(gettext("Released. Tap a seat to hold it."));
      } else {
        if (res.body.code === "hold_expired" || res.body.code === "stale_token" || res.body.code === "seat_taken") {
          if (el) setSeat(el, res.body.code === "seat_taken" ? "held" : "free");
          endHold("");
        }
        showError(res.body.detail || gettext("Something went wrong; try again."));
      }
    }).catch(function () { showError(gettext("Something went wrong; try again.")); });
  }

  root.addEventListener("click", function (event) {
    var seat = event.target.closest(".seat[data-label]");
    var action = event.target.closest("[data-action]");
    if (!(seat && !seat.disabled) && !action) return;
    clearError(); // the user acted: an old refusal no longer applies
    if (seat) { hold(seat); return; }
    if (current) act(action.dataset.action);
  });
  root.querySelectorAll(".seat[data-token]").forEach(function (el) {
    current = { label: el.dataset.label, token: Number(el.dataset.token), expires: Number(el.dataset.expires), price: Number(el.dataset.price) };
  });
  if (current) showHold();
  setInterval(countdown, 1000);
  refresh();
})();
