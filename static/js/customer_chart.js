// The customer diagnostics chart: draws what the analysis stored (json_script
// "customer-chart-data"), computes nothing. Colours come from the stylesheet's variables so
// the chart, the badges and the other pages share one palette.
(function () {
  "use strict";

  var cssVar = window.RevTrendCharts.cssVar, withAlpha = window.RevTrendCharts.withAlpha;
  var moneyFormat = window.RevTrendCharts.moneyFormat;

  function money(value, currency) {
    if (value === null || value === undefined) return "–";
    var text = value
      .toLocaleString("en-GB", { maximumFractionDigits: 0 })
      .replace("-", "\u2212");
    return (currency ? currency + " " : "") + text;
  }

  function line(data, key, name, style) {
    return Object.assign(
      {
        x: data.months,
        y: data.series[key],
        name: name,
        type: "scatter",
        mode: "lines",
        connectgaps: false,
        hovertemplate: name + ": " + moneyFormat(data.currency, "y") + "<extra></extra>",
      },
      style
    );
  }

  function hasValues(values) {
    return Array.isArray(values) && values.some(function (v) { return v !== null; });
  }

  function traces(data, palette) {
    var out = [];
    var negative = data.revenue.map(function (v) { return v !== null && v < 0; });
    out.push({
      x: data.months,
      y: data.revenue,
      name: "Monthly revenue",
      type: "bar",
      marker: {
        color: negative.map(function (n) { return n ? palette.negative : palette.revenue; }),
      },
      hovertemplate: "Revenue: " + moneyFormat(data.currency, "y") + "<extra></extra>",
    });
    var series = data.series;
    if (hasValues(series.theil_sen_low) && hasValues(series.theil_sen_high)) {
      out.push(line(data, "theil_sen_low", "Theil–Sen 95 % band", {
        line: { width: 0, color: palette.theilSen },
        legendgroup: "theil-sen",
        showlegend: false,
        hoverinfo: "skip",
      }));
      // One hover label for the band, on its upper edge, naming both ends.
      out.push(line(data, "theil_sen_high", "Theil–Sen 95 % band", {
        line: { width: 0, color: palette.theilSen },
        fill: "tonexty",
        fillcolor: withAlpha(palette.theilSen, 0.2),
        legendgroup: "theil-sen",
        customdata: series.theil_sen_low.map(function (v) { return money(v, data.currency); }),
        hovertemplate: "Theil–Sen 95 % band: %{customdata} to " + moneyFormat(data.currency, "y") + "<extra></extra>",
      }));
    }
    if (hasValues(series.theil_sen)) {
      out.push(line(data, "theil_sen", "Theil–Sen line", {
        line: { color: palette.theilSen, width: 2, dash: "dash" },
        legendgroup: "theil-sen",
      }));
    }
    if (hasValues(series.trend)) {
      out.push(line(data, "trend", "STL trend", { line: { color: palette.trend, width: 2 } }));
    }
    if (hasValues(series.underlying)) {
      out.push(line(data, "underlying", "Underlying level", {
        line: { color: palette.level, width: 3 },
      }));
    }
    if (hasValues(series.moving_average)) {
      out.push(line(data, "moving_average", "3-month moving average", {
        line: { color: palette.movingAverage, width: 1.5, dash: "dot" },
      }));
    }
    var negativeMonths = [], negativeValues = [];
    data.revenue.forEach(function (v, i) {
      if (negative[i]) { negativeMonths.push(data.months[i]); negativeValues.push(v); }
    });
    if (negativeMonths.length) {
      out.push({
        x: negativeMonths,
        y: negativeValues,
        name: "Negative revenue",
        type: "scatter",
        mode: "markers",
        marker: { symbol: "triangle-down", size: 11, color: palette.negative, line: { color: "#fff", width: 1 } },
        hovertemplate: "Negative revenue: " + moneyFormat(data.currency, "y") + "<extra></extra>",
      });
    }
    if (data.anomalies.length) {
      out.push({
        x: data.anomalies.map(function (a) { return a.month; }),
        y: data.anomalies.map(function (a) { return a.revenue; }),
        customdata: data.anomalies.map(function (a) {
          return [money(a.revenue, data.currency), money(a.expected, data.currency), a.zscore.toFixed(1).replace("-", "\u2212")];
        }),
        name: "Anomalies",
        type: "scatter",
        mode: "markers",
        marker: { color: palette.anomaly, size: 12, symbol: "circle", line: { color: "#fff", width: 2 } },
        hovertemplate:
          "<b>Anomaly</b><br>Revenue %{customdata[0]} vs expected %{customdata[1]}<br>z = %{customdata[2]}<extra></extra>",
      });
    }
    return out;
  }

  function layout(data, palette) {
    var shapes = [], annotations = [];
    if (data.onset) {
      shapes.push({
        type: "line", xref: "x", yref: "paper", x0: data.onset, x1: data.onset, y0: 0, y1: 1,
        line: { color: palette.onset, width: 2, dash: "dashdot" },
      });
      annotations.push({
        x: data.onset, xref: "x", y: 1, yref: "paper", yanchor: "bottom", showarrow: false,
        text: "Decline onset " + data.onset, font: { color: palette.onset, size: 12 },
      });
    }
    return {
      margin: { l: 64, r: 16, t: 28, b: 40 },
      height: 440,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", color: palette.ink, size: 13 },
      hovermode: "x unified",
      bargap: 0.25,
      xaxis: { type: "category", tickangle: -45, gridcolor: palette.grid, automargin: true },
      yaxis: { title: { text: "Revenue per month" }, gridcolor: palette.grid, zerolinecolor: palette.muted, tickformat: ",.0f", automargin: true },
      legend: { orientation: "h", x: 0, y: -0.22, yanchor: "top" },
      shapes: shapes,
      annotations: annotations,
    };
  }

  function draw() {
    var element = document.getElementById("customer-chart");
    var source = document.getElementById("customer-chart-data");
    if (!element || !source || typeof Plotly === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (!data.months || !data.months.length) return;
    var levelColour = data.level === null || data.level === undefined
      ? cssVar("--level-none", "#8a94a3")
      : cssVar("--level-" + data.level, "#1f5fbf");
    var palette = {
      ink: cssVar("--ink", "#1d2430"),
      muted: cssVar("--muted", "#5a6473"),
      grid: cssVar("--line", "#dde1e7"),
      revenue: cssVar("--chart-revenue", "#a9bedb"),
      negative: cssVar("--chart-negative", "#3d2a5c"),
      trend: cssVar("--accent", "#1f5fbf"),
      level: levelColour,
      theilSen: cssVar("--chart-theil-sen", "#8e44ad"),
      movingAverage: cssVar("--muted", "#5a6473"),
      anomaly: cssVar("--level-3", "#c0262d"),
      onset: cssVar("--ink", "#1d2430"),
    };
    Plotly.newPlot(element, traces(data, palette), layout(data, palette), window.RevTrendCharts.PLOT_CONFIG);
  }

  window.RevTrendCharts.whenReady(draw);
})();
