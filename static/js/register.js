// The registration form, made friendlier when JavaScript runs. Without it the form
// still works: plain file inputs, and every check is made again on the server.
//
// - Quick checks while typing, with the server's own messages.
// - A live camera with a face guide (selfie) or a card guide (KTP on a computer):
//   the captured frame is cropped around the guide and placed into the form's file
//   input, so the form posts an ordinary multipart file.
// - Photos chosen from the device are shrunk before upload (about 1600 px on the long
//   side) so a phone on slow data sends well under 2 MB.
// - One click sends the form once.
"use strict";

(function () {
  const form = document.querySelector("[data-register]");
  if (!form) return;
  const messages = JSON.parse(document.getElementById("register-messages").textContent);

  const LONG_SIDE = 1600; // what the server keeps anyway
  const MIN = { face: [480, 640], identity: [480, 360] }; // the provider's minimums
  const CARD_RATIO = 85.6 / 53.98; // ISO/IEC 7810 ID-1, the size of a KTP

  // Quick checks -------------------------------------------------------------------

  function showError(input, message) {
    const box = document.getElementById(input.id + "_error");
    if (!box) return;
    box.textContent = message || "";
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    input.closest(".field").classList.toggle("field--error", Boolean(message));
  }

  const checks = {
    identityId(value) {
      const digits = value.replace(/[\s\-\u2212]/g, "");
      if (!digits) return messages.required;
      if (!/^[0-9]+$/.test(digits)) return messages.nik_not_digits;
      if (digits.length !== 16) {
        return messages.nik_wrong_length.replace("%(count)d", digits.length);
      }
      return "";
    },
    fullName(value) {
      if (!value.trim()) return messages.required;
      if (/[0-9]/.test(value)) return messages.name_digits;
      if (!/^[\p{L}\p{M} .,'\-\u2018\u2019]+$/u.test(value)) {
        return messages.name_invalid_character;
      }
      return "";
    },
    emailAddress(value) {
      if (!value.trim()) return messages.required;
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value.trim()) ? "" : messages.email_invalid;
    },
    phoneNumber(value) {
      if (!value.trim()) return messages.required;
      if (!/^\+?[0-9 ().\-]+$/.test(value.trim())) return messages.phone_invalid_character;
      const digits = value.replace(/\D/g, "");
      const national = digits.replace(/^(0062|62|0)/, "");
      return /^8[0-9]{8,11}$/.test(national) ? "" : messages.phone_invalid;
    },
  };

  for (const [name, check] of Object.entries(checks)) {
    const input = form.elements[name];
    if (!input) continue;
    input.addEventListener("blur", () => {
      if (input.value) showError(input, check(input.value));
    });
    input.addEventListener("input", () => {
      if (input.getAttribute("aria-invalid") && !check(input.value)) showError(input, "");
    });
  }

  // Photos ---------------------------------------------------------------------------

  function putFile(input, blob, name) {
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], name, { type: "image/jpeg" }));
    input.files = transfer.files;
  }

  function canvasToJpeg(canvas) {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  }

  // Draw `source` (a video frame or a decoded image) cropped to `crop`, scaled so the
  // long side is at most LONG_SIDE.
  function drawCropped(source, crop) {
    const scale = Math.min(1, LONG_SIDE / Math.max(crop.width, crop.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(crop.width * scale);
    canvas.height = Math.round(crop.height * scale);
    canvas
      .getContext("2d")
      .drawImage(source, crop.x, crop.y, crop.width, crop.height, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  // A 3:4 portrait centred on the face guide (which sits in the middle of the frame).
  function portraitCrop(width, height) {
    if (width / height > 3 / 4) {
      const w = Math.round((height * 3) / 4);
      return { x: Math.round((width - w) / 2), y: 0, width: w, height };
    }
    const h = Math.round((width * 4) / 3);
    return { x: 0, y: Math.round((height - h) / 2), width, height: h };
  }

  // The card guide covers 80% of the frame's width (see site.css); keep a margin
  // around it so the card's edges are in the picture.
  function cardCrop(width, height) {
    let w = Math.min(width, Math.round(width * 0.9));
    let h = Math.round(w / CARD_RATIO);
    if (h > height) {
      h = height;
      w = Math.round(h * CARD_RATIO);
    }
    return { x: Math.round((width - w) / 2), y: Math.round((height - h) / 2), width: w, height: h };
  }

  function setupPhoto(fieldset) {
    const kind = fieldset.dataset.photo;
    const input = fieldset.querySelector("input[type=file]");
    const camera = fieldset.querySelector("[data-camera]");
    const fileChoice = fieldset.querySelector("[data-file-choice]");
    const problem = fieldset.querySelector("[data-camera-problem]");
    const preview = fieldset.querySelector("[data-preview]");
    const viewfinder = camera.querySelector("[data-viewfinder]");
    const video = camera.querySelector("video");
    const loader = camera.querySelector("[data-loader]");
    const captured = camera.querySelector("[data-captured]");
    const startButton = camera.querySelector("[data-start]");
    const captureButton = camera.querySelector("[data-capture]");
    const retakeButton = camera.querySelector("[data-retake]");
    const useFileButton = camera.querySelector("[data-use-file]");
    const kept = fieldset.querySelector("[data-kept]");
    let stream = null;

    const hasCamera = Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    // On a phone the file input's `capture` opens the rear camera for the KTP, which
    // beats a preview in the page; a computer gets the live camera with a card guide.
    const offerCamera =
      hasCamera && (kind === "face" || window.matchMedia("(pointer: fine)").matches);
    if (!offerCamera) return setupFileInput();

    camera.hidden = false;
    if (kind === "face") fileChoice.hidden = true;
    setupFileInput();

    function stop() {
      if (stream) stream.getTracks().forEach((track) => track.stop());
      stream = null;
      video.srcObject = null;
    }

    function fallBack(message) {
      stop();
      camera.hidden = true;
      fileChoice.hidden = false;
      if (message) {
        problem.textContent = message;
        problem.hidden = false;
      }
    }

    async function start() {
      startButton.hidden = true;
      captured.hidden = true;
      retakeButton.hidden = true;
      viewfinder.hidden = false;
      loader.hidden = false;
      captureButton.hidden = false;
      captureButton.disabled = true;
      const facingMode = camera.dataset.camera;
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: false,
          video: { facingMode, width: { ideal: 1280 }, height: { ideal: 960 } },
        });
      } catch (error) {
        const name = error && error.name;
        if (name === "NotAllowedError" || name === "SecurityError") {
          return fallBack(messages.camera_denied);
        }
        if (name === "NotFoundError" || name === "OverconstrainedError") {
          return fallBack(messages.camera_missing);
        }
        return fallBack(messages.camera_failed);
      }
      video.srcObject = stream;
      try {
        await video.play();
      } catch (error) {
        return fallBack(messages.camera_failed);
      }
    }

    // Capture only once a real frame has arrived.
    function frameReady() {
      if (video.videoWidth > 0 && video.readyState >= 2) {
        loader.hidden = true;
        captureButton.disabled = false;
      }
    }
    video.addEventListener("loadeddata", frameReady);
    video.addEventListener("playing", frameReady);
    video.addEventListener("resize", frameReady);

    async function capture() {
      if (!video.videoWidth) return;
      const crop = (kind === "face" ? portraitCrop : cardCrop)(video.videoWidth, video.videoHeight);
      const canvas = drawCropped(video, crop);
      const [minWidth, minHeight] = MIN[kind];
      if (canvas.width < minWidth || canvas.height < minHeight) {
        return fallBack(messages.camera_failed);
      }
      const blob = await canvasToJpeg(canvas);
      putFile(input, blob, kind === "face" ? "selfie.jpg" : "ktp.jpg");
      stop();
      captured.src = URL.createObjectURL(blob);
      captured.hidden = false;
      viewfinder.hidden = true;
      captureButton.hidden = true;
      retakeButton.hidden = false;
      if (kept) kept.hidden = true;
      showError(input, "");
    }

    startButton.addEventListener("click", start);
    captureButton.addEventListener("click", capture);
    retakeButton.addEventListener("click", start);
    useFileButton.addEventListener("click", () => {
      fallBack("");
      input.focus();
    });
    window.addEventListener("pagehide", stop);

    // Files chosen from the device: shown, and shrunk when larger than needed.
    function setupFileInput() {
      input.addEventListener("change", async () => {
        const file = input.files && input.files[0];
        if (!file) return;
        let bitmap;
        try {
          bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
        } catch (error) {
          showError(input, messages.photo_unreadable);
          return;
        }
        showError(input, "");
        const longSide = Math.max(bitmap.width, bitmap.height);
        if (longSide > LONG_SIDE * 1.1 || file.size > 2 * 1024 * 1024) {
          const canvas = drawCropped(bitmap, { x: 0, y: 0, width: bitmap.width, height: bitmap.height });
          const [minWidth, minHeight] = MIN[kind];
          const small = Math.min(canvas.width, canvas.height);
          // Never shrink below what the provider needs; the server decides then.
          if (small >= Math.min(minWidth, minHeight)) {
            putFile(input, await canvasToJpeg(canvas), file.name.replace(/\.\w+$/, "") + ".jpg");
          }
        }
        bitmap.close();
        preview.src = URL.createObjectURL(input.files[0]);
        preview.hidden = false;
        if (kept) kept.hidden = true;
      });
    }
  }

  document.querySelectorAll("[data-photo]").forEach(setupPhoto);

  // Sending --------------------------------------------------------------------------

  const submit = form.querySelector("[data-submit]");
  form.addEventListener("submit", (event) => {
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    submit.disabled = true;
    submit.dataset.label = submit.textContent;
    submit.textContent = messages.sending;
  });
  // Coming back with the browser's Back button must not leave the form locked.
  window.addEventListener("pageshow", () => {
    delete form.dataset.sending;
    submit.disabled = false;
    if (submit.dataset.label) submit.textContent = submit.dataset.label;
  });

  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
})();
