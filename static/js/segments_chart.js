// The segments radar: draws the z-scored profiles the analysis stored (json_script
// "segments-chart-data"), computes nothing. One trace per segment; clicking a legend entry
// hides or shows it. Colours come from the stylesheet's --segment-0..7, like the table's.
(function () {
  "use strict";

  var cssVar = window.RevTrendCharts.cssVar, withAlpha = window.RevTrendCharts.withAlpha;

  var PALETTE_SIZE = 8;
  var FALLBACK = ["#1f5fbf", "#e08a00", "#2e9e6a", "#8e44ad", "#c0392b", "#138d9c", "#7f8c1a", "#b5467f"];

  function signed(value) {
    if (value === null || value === undefined) return "–";
    return (value > 0 ? "+" : "") + value.toFixed(2).replace("-", "\u2212");
  }

  function traces(data) {
    // Close each polygon: the first axis again at the end.
    var theta = data.axes.concat([data.axes[0]]);
    return data.segments.map(function (segment) {
      var colour = cssVar("--segment-" + (segment.number % PALETTE_SIZE), FALLBACK[segment.number % PALETTE_SIZE]);
      var values = segment.values.concat([segment.values[0]]);
      return {
        type: "scatterpolar",
        r: values.map(function (v) { return v === null ? 0 : v; }),
        theta: theta,
        customdata: values.map(signed),
        name: segment.number + " · " + segment.name,
        fill: "toself",
        fillcolor: withAlpha(colour, 0.12),
        line: { color: colour, width: 2 },
        marker: { color: colour, size: 6 },
        hovertemplate:
          "<b>" + segment.number + " · " + segment.name + "</b><br>%{theta}: %{customdata} SD<extra></extra>",
      };
    });
  }

  function range(data) {
    var largest = 1;
    data.segments.forEach(function (segment) {
      segment.values.forEach(function (v) { if (v !== null) largest = Math.max(largest, Math.abs(v)); });
    });
    var bound = Math.ceil(largest * 2) / 2;
    return [-bound, bound];
  }

  function draw() {
    var element = document.getElementById("segments-chart");
    var source = document.getElementById("segments-chart-data");
    if (!element || !source || typeof Plotly === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (!data.segments || !data.segments.length) return;
    var ink = cssVar("--ink", "#1d2430");
    var grid = cssVar("--line", "#dde1e7");
    var muted = cssVar("--muted", "#5a6473");
    // On a narrow card (a phone) the legend goes below the radar, which takes the full width.
    var narrow = element.clientWidth < 640;
    var layout = {
      height: narrow ? 420 + 24 * data.segments.length : 500,
      margin: { l: 56, r: 16, t: 40, b: 40 },
      paper_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", color: ink, size: 13 },
      polar: {
        // The radar on the left, the legend beside it (a wide card would leave it far away).
        domain: narrow ? { x: [0.18, 0.82], y: [0.32, 1] } : { x: [0, 0.6], y: [0, 1] },
        bgcolor: "rgba(0,0,0,0)",
        // The radial scale between the first two axes, where it hides no axis label.
        radialaxis: { range: range(data), dtick: 1, angle: 60, tickangle: 60, gridcolor: grid, linecolor: grid, tickfont: { size: 11, color: muted } },
        angularaxis: { gridcolor: grid, linecolor: grid, direction: "clockwise", rotation: 90 },
      },
      legend: Object.assign(
        narrow
          ? { orientation: "v", x: 0, xanchor: "left", y: 0, yanchor: "bottom" }
          : { orientation: "v", x: 0.66, xanchor: "left", y: 0.5, yanchor: "middle" },
        { itemclick: "toggle", itemdoubleclick: "toggleothers", title: { text: "Segments (click to hide or show)" } }
      ),
      showlegend: true,
    };
    Plotly.newPlot(element, traces(data), layout, window.RevTrendCharts.PLOT_CONFIG);
  }

  window.RevTrendCharts.whenReady(draw);
})();
