// The dashboard's charts: the decline-level distribution (bar) and the level × month heatmap
// of average revenue. They draw what the server stored and aggregated (json_script
// "dashboard-chart-data"), computing nothing; colours come from the stylesheet's variables so
// the charts and the level badges share one palette.
(function () {
  "use strict";

  var cssVar = window.RevTrendCharts.cssVar;

  function levelColour(level) {
    return level === null || level === undefined
      ? cssVar("--level-none", "#8a94a3")
      : cssVar("--level-" + level, "#1f5fbf");
  }

  var CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

  function baseLayout(ink, grid) {
    return {
      margin: { l: 56, r: 16, t: 12, b: 48 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", color: ink, size: 13 },
      xaxis: { gridcolor: grid, automargin: true },
      yaxis: { gridcolor: grid, automargin: true },
    };
  }

  function drawDistribution(element, rows, ink, grid) {
    var layout = baseLayout(ink, grid);
    layout.height = 300;
    layout.showlegend = false;
    layout.bargap = 0.3;
    layout.xaxis.type = "category";
    layout.yaxis.title = { text: "Customers" };
    layout.yaxis.tickformat = ",d";
    layout.yaxis.rangemode = "tozero";
    var narrow = element.clientWidth < 500;
    Plotly.newPlot(element, [{
      type: "bar",
      x: rows.map(function (r) { return narrow && r.level !== null ? "Level " + r.level : r.label; }),
      y: rows.map(function (r) { return r.customers; }),
      marker: { color: rows.map(function (r) { return levelColour(r.level); }) },
      text: rows.map(function (r) { return r.customers.toLocaleString("en-GB"); }),
      textposition: "auto",
      hovertemplate: "%{x}: %{y:,d} customers<extra></extra>",
    }], layout, CONFIG);
  }

  function drawHeatmap(element, heatmap, ink, grid) {
    var layout = baseLayout(ink, grid);
    layout.height = 300;
    // On a phone the labels shrink to "Level 3 (5)" so the cells keep their width.
    var narrow = element.clientWidth < 500;
    layout.margin.l = narrow ? 70 : 150;
    layout.xaxis.type = "category";
    layout.xaxis.tickangle = -45;
    layout.yaxis.type = "category";
    layout.yaxis.autorange = "reversed"; // level 0 on top, sharp decline at the bottom
    var labels = heatmap.levels.map(function (label, i) {
      var name = narrow ? "Level " + label.split(" · ")[0] : label;
      return name + " (" + heatmap.customers[i].toLocaleString("en-GB") + ")";
    });
    Plotly.newPlot(element, [{
      type: "heatmap",
      x: heatmap.months,
      y: labels,
      z: heatmap.averages,
      colorscale: [[0, "#f3f6fb"], [0.5, "#8fb0e0"], [1, cssVar("--accent", "#1f5fbf")]],
      colorbar: { title: { text: "Average", side: "right" }, tickformat: ",.0f", thickness: 12 },
      xgap: 1,
      ygap: 2,
      hoverongaps: false,
      hovertemplate: "%{y}<br>%{x}: " + window.RevTrendCharts.moneyFormat(heatmap.currency, "z") + " per customer<extra></extra>",
    }], layout, CONFIG);
  }

  function draw() {
    var source = document.getElementById("dashboard-chart-data");
    if (!source || typeof Plotly === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (!data) return;
    var ink = cssVar("--ink", "#1d2430");
    var grid = cssVar("--line", "#dde1e7");
    var distribution = document.getElementById("level-distribution");
    if (distribution) drawDistribution(distribution, data.distribution, ink, grid);
    var heatmap = document.getElementById("level-heatmap");
    if (heatmap && data.heatmap.months.length) drawHeatmap(heatmap, data.heatmap, ink, grid);
  }

  window.RevTrendCharts.whenReady(draw);
})();
