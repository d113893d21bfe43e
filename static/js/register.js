// The registration form, made friendlier when JavaScript runs. Without it the form
// still works: plain file inputs, and every check is made again on the server.
//
// - Quick checks while typing, with the server's own messages.
// - A live camera with a face guide (selfie) or a card guide (KTP on a computer):
//   the captured frame is cropped around the guide and placed into the form's file
//   input, so the form posts an ordinary multipart file. The camera's size is known
//   as soon as it starts; one too small for the check says so at once.
// - Hints on the live preview (too dark, not sharp, closer), from the thresholds the
//   server's quality checks use.
// - Photos chosen from the device are shrunk before upload to what the server keeps
//   (its long side and JPEG quality), so a phone on slow data sends little.
// - One click sends the form once.
"use strict";

(function () {
  const form = document.querySelector("[data-register]");
  if (!form) return;
  const messages = JSON.parse(document.getElementById("register-messages").textContent);
  // The provider's minimums, what the server keeps and the hint thresholds, from
  // the server (onboarding.forms.photo_settings): one home for each number.
  const photoSettings = JSON.parse(document.getElementById("photo-settings").textContent);
  const CARD_RATIO = 85.6 / 53.98; // ISO/IEC 7810 ID-1, the size of a KTP
  const onPhone = window.matchMedia("(pointer: coarse)").matches;

  function format(message, values) {
    return message.replace(/%\((\w+)\)d/g, (match, name) => String(values[name]));
  }

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

  function canvasToJpeg(canvas, quality) {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  }

  // Draw `source` (a video frame or a decoded image) cropped to `crop`, scaled down
  // so the long side is at most `longSide`. Never scaled up: enlarging adds no
  // detail, and the server scales a small selfie to the provider's minimum itself,
  // after its quality checks have judged the capture as it was taken.
  function drawCropped(source, crop, longSide) {
    const scale = Math.min(1, longSide / Math.max(crop.width, crop.height));
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

  // The card guide covers 80% of the frame's width (see site.css, where the card
  // viewfinder takes the camera's own shape); keep a margin around it so the card's
  // edges are in the picture.
  function cardCrop(width, height) {
    let w = Math.round(width * 0.9);
    let h = Math.round(w / CARD_RATIO);
    if (h > height) {
      h = height;
      w = Math.round(h * CARD_RATIO);
    }
    return { x: Math.round((width - w) / 2), y: Math.round((height - h) / 2), width: w, height: h };
  }

  // The live preview's hints -------------------------------------------------------

  const hints = photoSettings.hints;

  // What the server's quality checks measure (onboarding.quality.measure), on a
  // grey copy of the crop with its long side at hints.longSide: mean brightness,
  // share of burnt-out pixels, and the variance of the Laplacian after a 3x3
  // binomial smoothing. For the selfie, also the share of skin tones inside the
  // oval guide: a rough sign of how much of it the face fills.
  function measure(canvas, oval) {
    const { width, height } = canvas;
    const rgba = canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data;
    const grey = new Float32Array(width * height);
    let sum = 0;
    let clipped = 0;
    let skin = 0;
    let insideOval = 0;
    for (let i = 0, p = 0; p < grey.length; i += 4, p += 1) {
      const r = rgba[i], g = rgba[i + 1], b = rgba[i + 2];
      const y = 0.299 * r + 0.587 * g + 0.114 * b;
      grey[p] = y;
      sum += y;
      if (y >= hints.clippedLevel) clipped += 1;
      if (oval) {
        const dx = ((p % width) - oval.cx) / oval.rx;
        const dy = (Math.floor(p / width) - oval.cy) / oval.ry;
        if (dx * dx + dy * dy <= 1) {
          insideOval += 1;
          const cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
          const cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
          if (cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173) skin += 1;
        }
      }
    }
    const smooth = new Float32Array(grey.length);
    for (let y = 1; y < height - 1; y += 1) {
      for (let x = 1; x < width - 1; x += 1) {
        const p = y * width + x;
        smooth[p] =
          (grey[p - width - 1] + 2 * grey[p - width] + grey[p - width + 1] +
            2 * grey[p - 1] + 4 * grey[p] + 2 * grey[p + 1] +
            grey[p + width - 1] + 2 * grey[p + width] + grey[p + width + 1]) / 16;
      }
    }
    let lapSum = 0;
    let lapSquares = 0;
    let count = 0;
    for (let y = 2; y < height - 2; y += 1) {
      for (let x = 2; x < width - 2; x += 1) {
        const p = y * width + x;
        const value = smooth[p - width] + smooth[p + width] + smooth[p - 1] + smooth[p + 1] - 4 * smooth[p];
        lapSum += value;
        lapSquares += value * value;
        count += 1;
      }
    }
    const lapMean = lapSum / count;
    return {
      brightness: sum / grey.length,
      clippedShare: clipped / grey.length,
      sharpness: lapSquares / count - lapMean * lapMean,
      skinShare: insideOval ? skin / insideOval : 1,
    };
  }

  function hintFor(kind, found) {
    if (found.brightness < hints.darkMean) return messages.hint_dark;
    if (found.clippedShare > hints.clippedMaxShare || found.brightness > hints.brightMean) {
      return messages.hint_bright;
    }
    if (found.sharpness < hints.blurMin[kind]) return messages.hint_blurred;
    if (kind === "face" && found.skinShare < hints.faceMinSkinShare) return messages.hint_closer;
    return messages.hint_ready;
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
    const hint = camera.querySelector("[data-hint]");
    const captured = camera.querySelector("[data-captured]");
    const startButton = camera.querySelector("[data-start]");
    const reopenButton = camera.querySelector("[data-reopen]");
    const captureButton = camera.querySelector("[data-capture]");
    const retakeButton = camera.querySelector("[data-retake]");
    const useFileButton = camera.querySelector("[data-use-file]");
    const kept = fieldset.querySelectorAll("[data-kept], [data-kept-warning]");
    const [captureMinWidth, captureMinHeight] = photoSettings.captureMinSize[kind];
    const crop = kind === "face" ? portraitCrop : cardCrop;
    let stream = null;
    let hintTimer = null;

    const hasCamera = Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    // On a phone the file input's `capture` opens the rear camera for the KTP, which
    // beats a preview in the page; a computer gets the live camera with a card guide.
    const offerCamera = hasCamera && (kind === "face" || window.matchMedia("(pointer: fine)").matches);
    if (!offerCamera) return setupFileInput();

    camera.hidden = false;
    if (kind === "face") fileChoice.hidden = true;
    setupFileInput();

    function replaceKept() {
      kept.forEach((element) => {
        element.hidden = true;
      });
    }

    function stop() {
      window.clearInterval(hintTimer);
      hintTimer = null;
      if (stream) stream.getTracks().forEach((track) => track.stop());
      stream = null;
      video.srcObject = null;
    }

    // The camera could not be used: say why and what else works, show the file
    // input, and keep a way back to the camera.
    function fallBack(message) {
      stop();
      viewfinder.hidden = true;
      hint.hidden = true;
      captureButton.hidden = true;
      startButton.hidden = true;
      useFileButton.hidden = true;
      reopenButton.hidden = false;
      fileChoice.hidden = false;
      problem.textContent = message ? message + " " + (onPhone ? messages.ways_phone : messages.ways_computer) : "";
      problem.hidden = !message;
    }

    // Ask for the best frame the camera can give, in the shape the screen is held:
    // the browser picks the nearest mode it has.
    function constraints() {
      const portrait = window.matchMedia("(orientation: portrait)").matches;
      const [long, short] = [1920, 1440];
      return {
        audio: false,
        video: {
          facingMode: camera.dataset.camera,
          width: { ideal: portrait ? short : long },
          height: { ideal: portrait ? long : short },
        },
      };
    }

    async function start() {
      startButton.hidden = true;
      reopenButton.hidden = true;
      useFileButton.hidden = false;
      problem.hidden = true;
      captured.hidden = true;
      retakeButton.hidden = true;
      viewfinder.hidden = false;
      loader.hidden = false;
      hint.hidden = true;
      captureButton.hidden = false;
      captureButton.disabled = true;
      if (kind === "face") fileChoice.hidden = true;
      try {
        stream = await navigator.mediaDevices.getUserMedia(constraints());
      } catch (error) {
        const name = error && error.name;
        if (name === "NotAllowedError" || name === "SecurityError") return fallBack(messages.camera_denied);
        if (name === "NotFoundError" || name === "OverconstrainedError") return fallBack(messages.camera_missing);
        return fallBack(messages.camera_failed);
      }
      video.srcObject = stream;
      try {
        await video.play();
      } catch (error) {
        return fallBack(messages.camera_failed);
      }
    }

    // The size is known as soon as the first frame's metadata arrives: a camera too
    // small for the check is told at once, before anyone poses. Capture only once a
    // real frame has arrived.
    function frameReady() {
      if (!stream || !video.videoWidth) return;
      const area = crop(video.videoWidth, video.videoHeight);
      if (area.width < captureMinWidth || area.height < captureMinHeight) {
        // The smallest landscape camera whose crop is large enough.
        const minWidth =
          kind === "face" ? Math.ceil((captureMinHeight * 4) / 3) : Math.ceil((captureMinHeight * CARD_RATIO) / 0.9);
        const minHeight = captureMinHeight;
        return fallBack(
          format(messages.camera_too_small, {
            width: video.videoWidth,
            height: video.videoHeight,
            min_width: minWidth,
            min_height: minHeight,
          }),
        );
      }
      if (kind === "identity") {
        // The card viewfinder takes the camera's own shape, so the guide shows the
        // whole frame the capture is cut from.
        viewfinder.style.aspectRatio = video.videoWidth + " / " + video.videoHeight;
      }
      if (video.readyState >= 2) {
        loader.hidden = true;
        captureButton.disabled = false;
        if (!hintTimer) hintTimer = window.setInterval(showHint, 400);
      }
    }
    video.addEventListener("loadedmetadata", frameReady);
    video.addEventListener("loadeddata", frameReady);
    video.addEventListener("playing", frameReady);
    video.addEventListener("resize", frameReady);

    function showHint() {
      if (!stream || !video.videoWidth) return;
      const area = crop(video.videoWidth, video.videoHeight);
      const canvas = drawCropped(video, area, hints.longSide);
      // The oval of the face guide in site.css: 18% in from each side, 12% from the
      // top, 18% from the bottom.
      const oval =
        kind === "face"
          ? { cx: canvas.width / 2, cy: canvas.height * 0.47, rx: canvas.width * 0.32, ry: canvas.height * 0.35 }
          : null;
      const text = hintFor(kind, measure(canvas, oval));
      if (hint.textContent !== text) hint.textContent = text;
      hint.dataset.ready = text === messages.hint_ready ? "1" : "";
      hint.hidden = false;
    }

    async function capture() {
      if (!video.videoWidth) return;
      const canvas = drawCropped(video, crop(video.videoWidth, video.videoHeight), photoSettings.longSide[kind]);
      // A capture is encoded once here and once on the server: a high quality here
      // keeps the detail the server's checks and the provider's byte floor need.
      const blob = await canvasToJpeg(canvas, 0.92);
      putFile(input, blob, kind === "face" ? "selfie.jpg" : "ktp.jpg");
      stop();
      captured.src = URL.createObjectURL(blob);
      captured.hidden = false;
      viewfinder.hidden = true;
      hint.hidden = true;
      captureButton.hidden = true;
      retakeButton.hidden = false;
      replaceKept();
      showError(input, "");
    }

    startButton.addEventListener("click", start);
    reopenButton.addEventListener("click", start);
    captureButton.addEventListener("click", capture);
    retakeButton.addEventListener("click", start);
    useFileButton.addEventListener("click", () => {
      fallBack("");
      input.focus();
    });
    window.addEventListener("pagehide", stop);

    // Files chosen from the device: shown, and shrunk to what the server keeps.
    function setupFileInput() {
      const longSide = photoSettings.longSide[kind];
      const [minWidth, minHeight] = photoSettings.minSize[kind];
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
        if (Math.max(bitmap.width, bitmap.height) > longSide * 1.1 || file.size > 2 * 1024 * 1024) {
          const canvas = drawCropped(bitmap, { x: 0, y: 0, width: bitmap.width, height: bitmap.height }, longSide);
          // Never shrink below what the provider needs; the server decides then.
          if (Math.min(canvas.width, canvas.height) >= Math.min(minWidth, minHeight)) {
            const blob = await canvasToJpeg(canvas, photoSettings.jpegQuality);
            putFile(input, blob, file.name.replace(/\.\w+$/, "") + ".jpg");
          }
        }
        bitmap.close();
        preview.src = URL.createObjectURL(input.files[0]);
        preview.hidden = false;
        replaceKept();
      });
    }
  }

  document.querySelectorAll("[data-photo]").forEach(setupPhoto);

  // Sending --------------------------------------------------------------------------

  const submit = form.querySelector("[data-submit]");
  form.addEventListener("submit", (event) => {
    // The hand-off and the language switch leave the page without sending.
    if (event.submitter && event.submitter.formAction !== form.action) return;
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
