// The overview's quota charts (templates/dashboard/overview.html): one doughnut per
// <canvas data-quota-chart="KEY">, its numbers from the <script id="quota-data"> JSON
// (json_script: data, never executed). The same numbers are on the page as text.
"use strict";

(function () {
  const USED = "#0d6efd";
  const FULL = "#dc3545";
  const FREE = "#e9ecef";

  function draw() {
    const source = document.getElementById("quota-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    const meters = JSON.parse(source.textContent || "[]");
    meters.forEach(function (meter) {
      const canvas = document.querySelector('canvas[data-quota-chart="' + meter.key + '"]');
      if (!canvas) {
        return;
      }
      const unlimited = meter.limit < 0;
      const free = unlimited ? (meter.used === 0 ? 1 : 0) : Math.max(0, meter.limit - meter.used);
      const atLimit = !unlimited && meter.used >= meter.limit && meter.limit >= 0;
      new window.Chart(canvas, {
        type: "doughnut",
        data: {
          labels: ["Used", unlimited ? "Unlimited" : "Free"],
          datasets: [{
            data: [meter.used, free],
            backgroundColor: [atLimit ? FULL : USED, FREE],
            borderWidth: 0,
          }],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          cutout: "70%",
          animation: false,
          plugins: { legend: { display: false }, tooltip: { enabled: !unlimited } },
        },
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
