// Copy buttons: <button data-copy="ID" data-copy-status="ID"> puts the text of element ID
// (a textarea's value, or a block's text) on the clipboard and says so in the status element;
// where the browser refuses, the text is selected instead for Ctrl+C.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copyStatus);
  if (!source) return;
  const text = "value" in source ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text);
    if (status) status.textContent = status.dataset.copied;
  } catch (error) {
    if (typeof source.select === "function") {
      source.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    if (status) status.textContent = status.dataset.copyFailed;
  }
});
