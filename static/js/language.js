// The language switcher submits itself when a language is picked (the button stays for no-JS use).
(function () {
  "use strict";
  var form = document.querySelector("[data-language-switcher]");
  if (!form) return;
  var button = form.querySelector("button");
  if (button) button.hidden = true;
  form.querySelector("select").addEventListener("change", function () { form.submit(); });
})();
