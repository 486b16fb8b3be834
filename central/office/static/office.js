// The office console's little JavaScript: dialogs (a button opens one, Esc or Cancel closes it, a dialog whose form
// was refused opens again with its errors), and the desk card reader (a keyboard-wedge reader types the number and
// Enter into the focused field, which submits its form; nothing else is needed but keeping the field focused).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-dialog]")) {
    button.addEventListener("click", () => {
      const dialog = document.getElementById(button.dataset.dialog);
      if (dialog) { dialog.showModal(); const first = dialog.querySelector("input:not([type=hidden]), textarea"); if (first) first.focus(); }
    });
  }
  for (const close of document.querySelectorAll("dialog [data-close]")) {
    close.addEventListener("click", () => close.closest("dialog").close());
  }
  for (const button of document.querySelectorAll("button[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
  const refused = document.querySelector("dialog[data-open]");
  if (refused) {
    refused.showModal();
    const invalid = refused.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
  } else {
    const invalid = document.querySelector("main [aria-invalid=true]");
    if (invalid) invalid.focus();
  }
  // A form is sent once: a second Enter from the reader while the first submission is on its way does nothing.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
    });
  }
});
