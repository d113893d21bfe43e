// The status page updates itself while the check runs: a small poll, slowing down
// over time, and a reload when the outcome is known. Without JavaScript a meta
// refresh does the same.
"use strict";

(function () {
  const box = document.querySelector("[data-status][data-waiting]");
  if (!box) return;
  const url = box.dataset.pollUrl;
  const current = box.dataset.current;
  let delay = 2000;

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok) {
        const body = await response.json();
        if (body.status !== current) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // Offline for a moment (mobile data): try again later.
    }
    delay = Math.min(delay * 1.5, 15000);
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, delay);
})();
