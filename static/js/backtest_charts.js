// Backtest charts: per cutoff, the share of each level's customers that really lost revenue
// (against the average, dashed), and each forecast against what was realised by tenth of
// the prediction (on the dotted diagonal = right). Draws the numbers the backtest stored
// (json_script "backtest-chart-data"); computes nothing.
(function () {
  "use strict";

  var charts = window.RevTrendCharts;
  var LEVEL_FALLBACK = { "0": "#2e9e6a", "1": "#e0b000", "2": "#e08a00", "3": "#c0392b", none: "#8a8f98" };

  function levelColour(level) {
    return charts.cssVar("--level-" + level, LEVEL_FALLBACK[level] || "#8a8f98");
  }

  function drawLevels(element, chart) {
    var levels = chart.levels;
    var traces = [{
      type: "bar",
      x: levels.labels,
      y: levels.loss_share,
      customdata: levels.customers,
      marker: { color: levels.level.map(levelColour) },
      name: "Had a real loss",
      hovertemplate: "%{x}<br>%{y:.1%} of %{customdata} customers lost<extra></extra>",
    }];
    var layout = {
      margin: { t: 20, r: 10, b: 60, l: 50 },
      yaxis: { tickformat: ".0%", range: [0, 1], title: { text: "Had a real loss" } },
      shapes: chart.base_rate === null ? [] : [{
        type: "line", xref: "paper", x0: 0, x1: 1, y0: chart.base_rate, y1: chart.base_rate,
        line: { dash: "dash", width: 1, color: "#555" },
      }],
      showlegend: false,
    };
    Plotly.newPlot(element, traces, layout, charts.PLOT_CONFIG);
  }

  var CALIBRATION = {
    revenue_at_risk: { name: "Revenue at risk vs realised loss", colour: "#c0392b" },
    expected_revenue: { name: "Expected vs realised revenue", colour: "#1f5fbf" },
  };

  function drawCalibration(element, key, part, currency) {
    var style = CALIBRATION[key];
    var largest = Math.max.apply(null, part.predicted.concat(part.realised).concat([1]));
    var traces = [
      {
        type: "scatter", mode: "lines+markers", x: part.predicted, y: part.realised,
        name: style.name, line: { color: style.colour },
        hovertemplate: "predicted " + charts.moneyFormat(currency, "x") + "<br>realised " + charts.moneyFormat(currency, "y") + "<extra></extra>",
      },
      {
        type: "scatter", mode: "lines", x: [0, largest], y: [0, largest], name: "Right on",
        line: { dash: "dot", color: "#888" }, hoverinfo: "skip",
      },
    ];
    var layout = {
      title: { text: style.name, font: { size: 13 } },
      margin: { t: 40, r: 10, b: 50, l: 60 },
      xaxis: { title: { text: "Predicted per customer (mean of a tenth)" }, rangemode: "tozero" },
      yaxis: { title: { text: "Realised per customer" }, rangemode: "tozero" },
      showlegend: false,
    };
    Plotly.newPlot(element, traces, layout, charts.PLOT_CONFIG);
  }

  charts.whenReady(function () {
    var source = document.getElementById("backtest-chart-data");
    if (!source || !window.Plotly) return;
    JSON.parse(source.textContent).forEach(function (chart, index) {
      var levels = document.getElementById("backtest-levels-" + (index + 1));
      if (levels) drawLevels(levels, chart);
      Object.keys(chart.calibration).forEach(function (key) {
        var element = document.getElementById("backtest-calibration-" + key + "-" + (index + 1));
        if (element && CALIBRATION[key]) drawCalibration(element, key, chart.calibration[key], chart.currency);
      });
    });
  });
})();
