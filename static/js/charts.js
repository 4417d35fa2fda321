// Draws the admin dashboard charts with the vendored Chart.js. The data comes from a
// <script type="application/json" id="dashboard-charts"> element (Django's json_script):
// {"canvas-id": {"type": "bar" | "line" | "doughnut", "stacked": bool, "horizontal": bool, "integer": bool,
//                "data": {"labels": [...], "datasets": [{"label": ..., "data": [...]}]}}}
(function () {
  "use strict";
  var palette = ["#0d4cd3", "#e05a00", "#1a8f3c", "#b3261e", "#7a3ccf", "#00838f", "#8d6e00", "#5f6b7a"];
  function draw() {
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof Chart === "undefined") { return; }
    var charts = JSON.parse(source.textContent);
    Object.keys(charts).forEach(function (id) {
      var canvas = document.getElementById(id);
      if (!canvas) { return; }
      var spec = charts[id];
      spec.data.datasets.forEach(function (set, i) {
        if (spec.type === "doughnut") {
          set.backgroundColor = set.data.map(function (_v, j) { return palette[j % palette.length]; });
        } else {
          set.backgroundColor = palette[i % palette.length];
          set.borderColor = palette[i % palette.length];
        }
      });
      var options = { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" } } };
      if (spec.type !== "doughnut") {
        options.scales = { x: { stacked: !!spec.stacked, beginAtZero: true }, y: { stacked: !!spec.stacked, beginAtZero: true } };
      }
      if (spec.horizontal) {
        options.indexAxis = "y";
        options.scales.y.ticks = { autoSkip: false };  // every category name, not every other one
      }
      if (options.scales && spec.integer) {
        // Counts: ticks at whole numbers only (no 0,2 … 1,0 on a chart of one or two items).
        var valueAxis = spec.horizontal ? options.scales.x : options.scales.y;
        valueAxis.ticks = Object.assign(valueAxis.ticks || {}, { precision: 0 });
      }
      new Chart(canvas, { type: spec.type, data: spec.data, options: options });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
