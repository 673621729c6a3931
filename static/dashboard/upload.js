// The images page's upload (templates/dashboard/images/list.html, <form data-upload>):
// 1. the form's fields (not the file) create the image record (JSON answer: its id and the
//    data URL; or {"errors": {field: [messages]}} shown at the fields);
// 2. the file goes as the raw body of a second request, with XMLHttpRequest so that
//    upload.onprogress can drive the <progress> bar; the server streams it into the store.
// The CSRF token comes from the form (the cookie is HttpOnly).
"use strict";

(function () {
  function part(form, name) {
    return form.querySelector("[" + name + "]");
  }

  function clearErrors(form) {
    form.querySelectorAll(".is-invalid").forEach(function (el) { el.classList.remove("is-invalid"); });
    form.querySelectorAll("[data-field-error]").forEach(function (el) { el.textContent = ""; });
    const general = part(form, "data-upload-error");
    general.textContent = "";
    general.classList.add("d-none");
  }

  function showError(form, field, message) {
    const slot = form.querySelector('[data-field-error="' + field + '"]');
    const input = form.elements.namedItem(field);
    if (slot && input instanceof HTMLElement) {
      slot.textContent = message;
      input.classList.add("is-invalid");
      input.focus();
      return;
    }
    const general = part(form, "data-upload-error");
    general.textContent = message;
    general.classList.remove("d-none");
  }

  function busy(form, on, text) {
    part(form, "data-upload-submit").disabled = on;
    part(form, "data-upload-status").textContent = text || "";
  }

  async function createImage(form, token) {
    const fields = new FormData(form);
    fields.delete("file");
    const response = await fetch(form.action, {
      method: "POST",
      body: fields,
      headers: { "Accept": "application/json", "X-CSRFToken": token },
      credentials: "same-origin",
    });
    let body = {};
    try {
      body = await response.json();
    } catch (e) {
      body = {};
    }
    if (!response.ok) {
      const errors = body.errors || { general: ["The image could not be created (" + response.status + ")."] };
      Object.keys(errors).forEach(function (field) { showError(form, field, errors[field].join(" ")); });
      return null;
    }
    return body;
  }

  function sendFile(form, token, url, file) {
    const progress = part(form, "data-upload-progress");
    progress.classList.remove("d-none");
    progress.value = 0;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable) {
        progress.value = Math.round((100 * event.loaded) / event.total);
        busy(form, true, "Uploading… " + progress.value + "%");
      }
    };
    xhr.onload = function () {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch (e) {
        body = {};
      }
      if (xhr.status === 200) {
        progress.value = 100;
        busy(form, true, "Image " + body.id + " is " + body.status + ".");
        window.location.assign(window.location.pathname);
        return;
      }
      busy(form, false, "");
      showError(form, "file", body.error || "The upload failed (" + xhr.status + ").");
    };
    xhr.onerror = function () {
      busy(form, false, "");
      showError(form, "file", "The connection failed during the upload.");
    };
    xhr.send(file);
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) {
      return;
    }
    event.preventDefault();
    clearErrors(form);
    const input = part(form, "data-upload-file");
    const file = input.files && input.files[0];
    if (!file) {
      showError(form, "file", "Choose a file to upload.");
      return;
    }
    const token = form.elements.namedItem("csrfmiddlewaretoken").value;
    busy(form, true, "Creating the image…");
    const created = await createImage(form, token);
    if (!created) {
      busy(form, false, "");
      return;
    }
    busy(form, true, "Uploading…");
    sendFile(form, token, created.upload_url, file);
  });
})();
