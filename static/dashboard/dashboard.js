// The dashboard's behaviour, loaded by every page (templates/dashboard/base.html).
// No inline scripts anywhere: pages declare behaviour with data- attributes read here.
"use strict";

(function () {
  // <select data-autosubmit>: submit its form on change (the project switcher).
  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.requestSubmit();
    }
  });

  // <form data-confirm="Delete server x?">: ask before a destructive action.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }
  }, true);
})();
