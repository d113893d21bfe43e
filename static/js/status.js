// The status page updates itself while something is pending: a small poll, slowing
// down over time, and a reload when the status changes. While the check runs it
// starts every 2 seconds; while a reviewer decides (which takes hours, not
// seconds) every 30 seconds, slowing to every 5 minutes. Without JavaScript a
// meta refresh does the same.
"use strict";

(function () {
  const box = document.querySelector("[data-status][data-waiting]");
  if (!box) return;
  const url = box.dataset.pollUrl;
  const current = box.dataset.current;
  const review = box.dataset.waiting === "review";
  let delay = review ? 30000 : 2000;
  const longest = review ? 300000 : 15000;

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
    delay = Math.min(delay * 1.5, longest);
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, delay);
})();
