// Draws the federation report's charts from the page's own JSON (no inline script: the
// page's Content Security Policy allows only scripts served by this app).
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("report-data");
    if (!holder || typeof Chart === "undefined") { return; }
    var charts = JSON.parse(holder.textContent);
    var canvases = document.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var spec = charts[canvas.getAttribute("data-chart")];
      if (!spec) { return; }
      new Chart(canvas, {
        type: spec.kind,
        data: {
          labels: spec.labels,
          datasets: spec.series.map(function (s) { return { label: s.label, data: s.values }; })
        },
        options: { animation: false, responsive: true, maintainAspectRatio: false }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
