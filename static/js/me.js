// The visitor's own parts of a shared page (one copy for everybody, kept by the proxy; docs/pages.md):
// name, balance and links from the fc_me cookie, the CSRF token from the csrftoken cookie. The cookie
// is asked for (GET /me/state/) only when it is missing, and while a claim is pending (its delivery
// changes the balance out of any request of ours). Other scripts wait on window.firstcomeMe.ready.
(function () {
  "use strict";
  var stateUrl = document.currentScript.dataset.state;
  // A personal page is rendered for its visitor: nothing to fill in, nothing to ask for (asking
  // there could race a login and overwrite its fresh cookie with the anonymous answer).
  var shared = "shared" in document.currentScript.dataset;

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  function decode(value) {
    // "0": anonymous; otherwise URL-safe base64 of UTF-8 JSON (coupons/me.py)
    if (value === null) return null;
    if (value === "0") return { anonymous: true };
    try {
      var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
      while (b64.length % 4) b64 += "=";
      var binary = atob(b64);
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      var me = JSON.parse(new TextDecoder().decode(bytes));
      return me && typeof me.name === "string" ? me : null;
    } catch (error) {
      return null;
    }
  }

  function fetchState() {
    return fetch(stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { me: null }; })
      .then(function (body) { return body.me || { anonymous: true }; })
      .catch(function () { return { anonymous: true }; });
  }

  function csrfToken() { return cookie("csrftoken") || ""; }

  function fillTokens() {
    var token = csrfToken();
    document.querySelectorAll('form[method="post"]').forEach(function (form) {
      var input = form.querySelector("input[name=csrfmiddlewaretoken]");
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = "csrfmiddlewaretoken";
        input.dataset.meToken = "1";
        form.prepend(input);
      }
      if (input.dataset.meToken && token) input.value = token;
    });
  }

  function apply(me) {
    var user = !me.anonymous;
    document.querySelectorAll("[data-me-show]").forEach(function (el) {
      // what is not this visitor's goes (the shared copy carries both)
      var who = el.dataset.meShow;
      var mine = who === "user" ? user : who === "staff" ? user && me.staff : !user;
      if (mine) el.hidden = false;
      else el.remove();
    });
    document.querySelectorAll('[data-me-field="name"]').forEach(function (el) { el.textContent = user ? me.name : ""; });
    document.querySelectorAll('[data-me-field="balance"]').forEach(function (el) {
      // the same words as the server's krw filter, from the JavaScript catalog
      el.textContent = user ? interpolate(pgettext("money", "%s KRW"), [Number(me.balance || 0).toLocaleString("en-US")]) : "";
    });
    fillTokens();
  }

  function pending(me) {
    var claims = (me && me.claims) || {};
    return Object.keys(claims).some(function (slug) { return claims[slug][2] === "pending"; });
  }

  var listeners = [];
  var current = decode(cookie("fc_me"));
  if (!shared) {
    window.firstcomeMe = {
      ready: Promise.resolve(current || { anonymous: true }),
      csrfToken: csrfToken,
      current: function () { return current; },
      refresh: function () { return Promise.resolve(current); },
      onChange: function () {}
    };
    return;
  }
  var ready = current ? Promise.resolve(current) : fetchState();
  var delay = 1000;

  function watchPending(me) {
    if (!pending(me)) return;
    setTimeout(function () {
      fetchState().then(function (fresh) {
        current = fresh;
        apply(fresh);
        listeners.forEach(function (listener) { listener(fresh); });
        delay = Math.min(delay * 2, 30000);
        watchPending(fresh);
      });
    }, delay);
  }

  ready.then(function (me) {
    current = me;
    apply(me);
    watchPending(me);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches('form[method="post"]')) return;
    fillTokens();
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && !input.value) {
      // no csrftoken cookie yet: ask for one, then send the form
      event.preventDefault();
      event.stopImmediatePropagation();
      fetchState().then(function () { fillTokens(); form.submit(); });
    }
  }, true);

  window.firstcomeMe = {
    ready: ready,
    csrfToken: csrfToken,
    current: function () { return current; },
    // a script that changed the visitor's claims (a claim through the API) asks for the fresh cookie
    refresh: function () { return fetchState().then(function (me) { current = me; apply(me); watchPending(me); return me; }); },
    onChange: function (listener) { listeners.push(listener); }
  };
})();
