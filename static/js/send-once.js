// The review step and the code page: one click sends the application once.
"use strict";

(function () {
  const form = document.querySelector("[data-review], [data-email-code]");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    // Change, Retake and the language switch leave the step without sending.
    if (event.submitter && !event.submitter.hasAttribute("data-submit")) return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    form.querySelector("[data-submit]").disabled = true;
  });
  window.addEventListener("pageshow", () => {
    delete form.dataset.sending;
    form.querySelector("[data-submit]").disabled = false;
  });
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
})();
