// What every chart script shares: the stylesheet's colours (so charts, badges and tables use
// one palette) and colour helpers. Loaded before the page's own chart script.
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function withAlpha(hex, alpha) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) return hex;
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + alpha + ")";
  }

  // The mode bar of the interactive charts, without the tools that select points.
  var PLOT_CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d"],
  };

  function whenReady(draw) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", draw);
    } else {
      draw();
    }
  }

  // An amount's hover format with the team's currency code before it, the pages' money rule
  // (whole units, thousands separators): moneyFormat("EUR", "y") → "EUR %{y:,.0f}".
  function moneyFormat(currency, axis) {
    return (currency ? currency + " " : "") + "%{" + axis + ":,.0f}";
  }

  window.RevTrendCharts = {
    cssVar: cssVar,
    moneyFormat: moneyFormat,
    withAlpha: withAlpha,
    PLOT_CONFIG: PLOT_CONFIG,
    whenReady: whenReady,
  };
})();
