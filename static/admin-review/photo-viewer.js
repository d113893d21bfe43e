// Zoom and rotate for the identity photos on the admin's attempt page. The state
// lives in CSS custom properties set through the CSSOM, which the site's CSP
// (no inline style attributes) allows. Without JavaScript the photos show as they
// are and the buttons stay hidden.
"use strict";

(function () {
  const ZOOM_STEPS = [1, 1.5, 2, 3, 4];

  function setUp(viewer) {
    const frame = viewer.querySelector(".review-photo-frame");
    const photo = viewer.querySelector("[data-photo]");
    const tools = viewer.querySelector(".review-photo-tools");
    if (!frame || !photo || !tools) return;
    let step = 0;
    let rotation = 0;

    function apply() {
      photo.style.setProperty("--zoom", String(ZOOM_STEPS[step]));
      photo.style.setProperty("--rotation", rotation + "deg");
      frame.classList.toggle("is-zoomed", step > 0);
    }

    const actions = {
      "zoom-in": () => { step = Math.min(step + 1, ZOOM_STEPS.length - 1); },
      "zoom-out": () => { step = Math.max(step - 1, 0); },
      rotate: () => { rotation = (rotation + 90) % 360; },
      reset: () => { step = 0; rotation = 0; },
    };
    tools.addEventListener("click", (event) => {
      const button = event.target.closest("[data-photo-action]");
      if (!button || !actions[button.dataset.photoAction]) return;
      actions[button.dataset.photoAction]();
      apply();
    });
    tools.hidden = false;
  }

  document.querySelectorAll("[data-photo-viewer]").forEach(setUp);
})();
