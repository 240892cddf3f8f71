/* Crowd Safety Manager: a small hand-written SVG chart of observed people, the forecast band and the
   level thresholds of one area. No library: the platform runs on closed networks without CDNs. */
(function (global) {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) { return 10; }
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
    for (var i = 0; i < steps.length; i += 1) {
      if (steps[i] * power >= value) { return steps[i] * power; }
    }
    return 10 * power;
  }

  /* opts: {start, end, now (ms), observed: [[ms, people]], forecast: [{t, p10, p50, p90}],
     thresholds: [{level, label, value}], formatTime(ms), strings: {observed, forecast, band}, title} */
  function renderChart(container, opts) {
    var W = 380, H = 210, left = 46, right = 74, top = 12, bottom = 30;
    var plotW = W - left - right, plotH = H - top - bottom;
    var values = [];
    opts.observed.forEach(function (p) { values.push(p[1]); });
    opts.forecast.forEach(function (p) { values.push(p.p90); });
    var dataMax = values.length ? Math.max.apply(null, values) : 0;
    // Show the thresholds near the data: every one below the top and the first one above it.
    var shown = [];
    var top1 = dataMax;
    for (var i = 0; i < opts.thresholds.length; i += 1) {
      var t = opts.thresholds[i];
      shown.push(t);
      if (t.value > dataMax) { top1 = Math.max(top1, t.value); break; }
    }
    var yMax = niceMax(Math.max(top1, dataMax) * 1.08);
    function x(ms) { return left + plotW * (ms - opts.start) / (opts.end - opts.start); }
    function y(v) { return top + plotH * (1 - Math.min(v, yMax) / yMax); }

    var svg = el("svg", {
      viewBox: "0 0 " + W + " " + H, role: "img", "class": "chart-svg",
      "aria-label": opts.title, preserveAspectRatio: "xMidYMid meet"
    });
    svg.appendChild(el("title", {}, opts.title));
    // Axes and grid.
    [0, yMax / 2, yMax].forEach(function (v) {
      svg.appendChild(el("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), "class": "grid" }));
      svg.appendChild(el("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", "class": "tick" },
        Math.round(v).toLocaleString()));
    });
    var hour = 3600 * 1000;
    [-24, 0, 24, 48].forEach(function (h) {
      var ms = opts.now + h * hour;
      if (ms < opts.start || ms > opts.end) { return; }
      svg.appendChild(el("line", { x1: x(ms), x2: x(ms), y1: top, y2: top + plotH, "class": h === 0 ? "now" : "grid" }));
      svg.appendChild(el("text", { x: x(ms), y: H - 10, "text-anchor": "middle", "class": "tick" }, opts.formatTime(ms)));
    });
    // Thresholds: dashed lines, each named (levels must read without colour).
    shown.forEach(function (t) {
      if (t.value > yMax) { return; }
      svg.appendChild(el("line", {
        x1: left, x2: left + plotW, y1: y(t.value), y2: y(t.value), "class": "threshold lvl-line-" + t.level
      }));
      svg.appendChild(el("text", { x: left + plotW + 4, y: y(t.value) + 4, "class": "threshold-label" }, t.label));
    });
    // Forecast band p10-p90 and the median.
    if (opts.forecast.length) {
      var upper = opts.forecast.map(function (p) { return x(p.t) + "," + y(p.p90); });
      var lower = opts.forecast.slice().reverse().map(function (p) { return x(p.t) + "," + y(p.p10); });
      svg.appendChild(el("polygon", { points: upper.concat(lower).join(" "), "class": "band" }));
      svg.appendChild(el("polyline", {
        points: opts.forecast.map(function (p) { return x(p.t) + "," + y(p.p50); }).join(" "), "class": "median"
      }));
    }
    if (opts.observed.length) {
      svg.appendChild(el("polyline", {
        points: opts.observed.map(function (p) { return x(p[0]) + "," + y(p[1]); }).join(" "), "class": "observed"
      }));
    }
    svg.appendChild(el("rect", { x: left, y: top, width: plotW, height: plotH, "class": "frame" }));
    container.replaceChildren(svg);
    var legend = document.createElement("p");
    legend.className = "chart-legend";
    [["observed", opts.strings.observed], ["median", opts.strings.forecast], ["band", opts.strings.band]]
      .forEach(function (item) {
        var span = document.createElement("span");
        span.className = "key key-" + item[0];
        span.textContent = item[1];
        legend.appendChild(span);
      });
    container.appendChild(legend);
  }

  global.CsmChart = { render: renderChart };
})(window);
