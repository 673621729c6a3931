// The server page (templates/dashboard/server/page.html): keep the followed console log at
// its bottom across htmx refreshes, unless the reader has scrolled up to read.
"use strict";

(function () {
  const SLACK = 24; // px from the bottom that still counts as "at the bottom"
  let pinned = true;

  function followed(root) {
    return root.querySelector("pre[data-follow]");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    const log = followed(event.detail.target);
    if (log) {
      pinned = log.scrollHeight - log.scrollTop - log.clientHeight <= SLACK;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const log = followed(event.detail.target);
    if (log && pinned) {
      log.scrollTop = log.scrollHeight;
    }
  });
})();
