// Live campaign page: remaining stock and my grant's status update without reloads;
// the claim form posts through the API when scripts run, and as a plain form otherwise.
(function () {
  "use strict";
  var root = document.getElementById("campaign");
  if (!root) return;
  var field = function (name) { return root.querySelector('[data-field="' + name + '"]'); };
  var grantApi = root.dataset.grantApi || null;
  // gettext and interpolate come from the JavaScript catalog (base.html loads it)
  var STATUS_LABELS = { scheduled: gettext("Scheduled"), open: gettext("Open"), sold_out: gettext("Sold out"),
                        closed: gettext("Closed"), cancelled: gettext("Cancelled"), pending: gettext("Pending"),
                        succeeded: gettext("Succeeded"), failed: gettext("Failed") };

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setBadge(el, status) {
    if (!el) return;
    el.textContent = STATUS_LABELS[status] || status;
    el.className = "badge badge--" + status;
  }

  function refreshCampaign() {
    fetch(root.dataset.api, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) return;
        field("remaining").textContent = c.remaining.toLocaleString();
        field("meter").style.width = (100 * c.remaining / c.quantity) + "%";
        status = c.status;
        setBadge(field("status"), openByClock() ? "open" : c.status);
        var button = root.querySelector("[data-claim-form] button");
        if (button && !button.dataset.busy) button.disabled = !openByClock();
      })
      .catch(function () {})
      .finally(function () { setTimeout(refreshCampaign, document.hidden ? 10000 : 2000); });
  }

  function showSummary(g) {
    // what the grant gave, in the server's words, with a link to where it is kept
    var summary = field("grant-summary");
    if (!summary || !g.summary) return;
    summary.textContent = g.summary;
    if (g.summary_url) {
      var link = document.createElement("a");
      link.href = g.summary_url;
      link.textContent = gettext("See it");
      summary.append(" ", link);
    }
  }

  function refreshGrant() {
    if (!grantApi) return;
    fetch(grantApi, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (g) {
        var status = g ? g.status : "pending";
        var result = field("claim-result");
        var badge = field("grant-status");
        if (badge) setBadge(badge, status);
        else if (result) result.innerHTML = interpolate(gettext("Slot <strong>#%s</strong>"), [g ? g.slot : "?"]) + ' — <span class="badge badge--' + status + '">' + (STATUS_LABELS[status] || status) + "</span>";
        if (g) showSummary(g);
        if (status === "pending") setTimeout(refreshGrant, 1000);
      })
      .catch(function () { setTimeout(refreshGrant, 3000); });
  }

  // The server's clock: the moment nginx served this copy (Server-Timing "clock", seconds), else
  // the moment the page was rendered (a shared copy is at most a second older than that).
  var clockOffset = (function () {
    var served = null;
    try {
      var timing = performance.getEntriesByType("navigation")[0];
      (timing && timing.serverTiming || []).forEach(function (entry) {
        if (entry.name === "clock" && entry.description) served = parseFloat(entry.description) * 1000;
      });
    } catch (error) { served = null; }
    if (!served) served = Number(root.dataset.renderedAt) * 1000;
    // when the answer arrived, on this device's Date clock (the one serverNow corrects)
    var navigation = performance.getEntriesByType("navigation")[0];
    var received = Date.now() - (navigation ? performance.now() - navigation.responseStart : 0);
    return served ? served - received : 0;
  })();
  function serverNow() { return Date.now() + clockOffset; }
  var opensAt = Number(root.dataset.opensAt) * 1000;
  var closesAt = Number(root.dataset.closesAt) * 1000;
  var status = root.dataset.status;

  function openByClock() {
    return status === "open" || (status === "scheduled" && serverNow() >= opensAt && serverNow() < closesAt);
  }

  // The countdown on the button, on the server's clock: the button works the instant the drop opens.
  function countdown() {
    var button = root.querySelector("[data-claim-form] button");
    if (!button || button.dataset.busy || status !== "scheduled") return;
    var left = Math.ceil((opensAt - serverNow()) / 1000);
    if (left <= 0) {
      button.disabled = false;
      button.textContent = gettext("Claim now");
      setBadge(field("status"), "open");
      return;
    }
    var minutes = Math.floor(left / 60), seconds = left % 60;
    button.textContent = interpolate(gettext("Opens in %s"), [minutes + ":" + (seconds < 10 ? "0" : "") + seconds]);
    button.disabled = true;
    setTimeout(countdown, Math.min(1000, (opensAt - serverNow()) % 1000 || 1000));
  }

  // A shared copy (one for everybody): the visitor's claim comes from the fc_me cookie (static/js/me.js).
  function showMine(me) {
    var claim = me && me.claims && me.claims[root.dataset.slug];
    if (!claim || claim[2] === "failed") return;
    var slot = Number(claim[1]), state = String(claim[2]);
    var form = root.querySelector("[data-claim-form]");
    if (form) form.remove();
    var room = root.querySelector("[data-me-room]");
    if (room) room.hidden = true;
    var result = field("claim-result");
    result.innerHTML = interpolate(gettext("Slot <strong>#%s</strong>"), [slot]) + ' — <span class="badge"></span>';
    setBadge(result.querySelector(".badge"), state);
    if (state === "pending" && !grantApi) {
      grantApi = "/api/v1/grants/" + encodeURIComponent(claim[0]) + "/";
      refreshGrant();
    }
  }
  if ("shared" in root.dataset && window.firstcomeMe) {
    window.firstcomeMe.ready.then(showMine);
    window.firstcomeMe.onChange(showMine);
  }

  var form = root.querySelector("[data-claim-form]");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      button.dataset.busy = "1";
      fetch(root.dataset.claimApi, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: "{}"
      })
        .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
        .then(function (res) {
          var result = field("claim-result");
          if (res.status === 202 || res.status === 200) {
            grantApi = res.body.status_url;
            form.remove();
            result.textContent = interpolate(res.status === 202 ? gettext("You are in! Slot #%s…") : gettext("You already hold slot #%s."), [res.body.slot]);
            refreshGrant();
          } else {
            result.textContent = res.body.detail || gettext("Something went wrong; try again.");
            result.className = "claim__result alert";
            delete button.dataset.busy;
            // 409 claim_in_progress: the first click is still being recorded; clicking again is the way on
            button.disabled = res.status === 409 && res.body.code !== "not_open" && res.body.code !== "claim_in_progress";
          }
        })
        .catch(function () { form.submit(); });
    });
  }

  refreshCampaign();
  countdown();
  if (grantApi) refreshGrant();
})();
