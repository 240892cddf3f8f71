/* The area panel's chart: the last 24 hours observed, the forecast band 48 hours ahead and the level
   thresholds, drawn by chart.js (a classic script, window.CsmChart). */
import { HOUR, S, shortFmt } from "./config.js";
import { flowThresholds, thresholdsFor } from "./levels.js";

/* observed: [[ms, people]] in time order; forecast: the API's forecast of the area. */
export function renderForecastChart(container, { props, forecast, observed, now }) {
  const flow = forecast.quantity === "flow";
  window.CsmChart.render(container, {
    start: now - 24 * HOUR, end: now + 48 * HOUR, now, observed,
    forecast: forecast.points.map((p) => ({ t: Date.parse(p.time), p10: p.p10, p50: p.p50, p90: p.p90 })),
    thresholds: flow ? flowThresholds(props) : thresholdsFor(props), strings: S,
    title: `${props.name}: ${flow ? S.flow : S.chart_title}`,
    formatTime(ms) {
      const h = Math.round((ms - now) / HOUR);
      return h === 0 ? `${S.now} ${shortFmt.format(new Date(ms))}` : `${h > 0 ? "+" : "−"}${Math.abs(h)} h`;
    }
  });
}

/* "Method: … · Model … · MAE 24 h = 0.81 × seasonal naive" under the chart. */
export function modelText(forecast) {
  const model = [`${S.method}: ${forecast.method}`];
  if (forecast.model_version) { model.push(`${S.model} ${forecast.model_version}`); }
  if (forecast.accuracy && forecast.accuracy["24"] && forecast.accuracy["24"].ratio) {
    model.push(`MAE 24 h = ${forecast.accuracy["24"].ratio.toFixed(2)} × seasonal naive`);
  }
  return model.join(" · ");
}
