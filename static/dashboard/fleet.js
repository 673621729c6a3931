// The hypervisors page's usage charts (templates/dashboard/fleet/hypervisors.html): one
// horizontal bar chart per <canvas data-usage-chart="ID">, its numbers from the
// <script type="application/json" id="ID"> that json_script wrote (data, never executed):
// {labels, percent, used, capacity, units}. Each bar is used as a share of the capacity
// (placement's: reserved and allocation ratio applied); the same numbers are on the page
// as text. static/dashboard/charts.js draws the overview's quota doughnuts.
"use strict";

(function () {
  const OK = "#0d6efd";
  const HIGH = "#fd7e14";
  const FULL = "#dc3545";

  function colour(percent) {
    if (percent >= 100) {
      return FULL;
    }
    return percent >= 80 ? HIGH : OK;
  }

  function drawOne(canvas) {
    const source = document.getElementById(canvas.dataset.usageChart);
    if (!source) {
      return;
    }
    const data = JSON.parse(source.textContent || "{}");
    const percent = data.percent || [];
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels || [],
        datasets: [{
          label: "Used (% of capacity)",
          data: percent,
          backgroundColor: percent.map(colour),
          borderRadius: 3,
          maxBarThickness: 22,
        }],
      },
      options: {
        indexAxis: "y",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: {
            min: 0,
            suggestedMax: 100,
            ticks: { callback: function (value) { return value + "%"; } },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (item) {
                const i = item.dataIndex;
                const unit = data.units[i] ? " " + data.units[i] : "";
                return data.used[i] + " of " + data.capacity[i] + unit + " (" + percent[i] + "%)";
              },
            },
          },
        },
      },
    });
  }

  function draw() {
    if (typeof window.Chart === "undefined") {
      return;
    }
    document.querySelectorAll("canvas[data-usage-chart]").forEach(drawOne);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
