/* The area panel's chart: the last 24 hours observed, the forecast band 48 hours ahead and the level
   thresholds, drawn by chart.js (a classic script, window.CsmChart). */
import { HOUR, S, shortFmt, timeFmt } from "./config.js";
import { flowThresholds, thresholdsFor, usableForecast } from "./levels.js";

/* observed: [[ms, people]] in time order; forecast: the API's forecast of the area (not drawn when the
   server says it is not trustworthy: forecastNote then says why). */
export function renderForecastChart(container, { props, forecast, observed, now }) {
  const flow = forecast.quantity === "flow";
  const points = usableForecast(forecast) ? forecast.points : [];
  window.CsmChart.render(container, {
    start: now - 24 * HOUR, end: now + 48 * HOUR, now, observed,
    forecast: points.map((p) => ({ t: Date.parse(p.time), p10: p.p10, p50: p.p50, p90: p.p90 })),
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

/* "±40", "±1,200", "±0.4": two significant figures for people, one decimal for a flow. */
function roundWithin(value, flow) {
  if (flow) { return value.toFixed(1); }
  if (value < 10) { return String(Math.round(value)); }
  const step = 10 ** (Math.floor(Math.log10(value)) - 1);
  return (Math.round(value / step) * step).toLocaleString();
}

/* In plain words, under the chart: why the forecast is not shown, else how good it has been lately for this
   area ({warning: true} for the first, so the panel can show it as a warning). */
export function forecastNote(forecast) {
  const trust = forecast.trust || {};
  if (trust.ok === false) {
    const since = trust.since ? timeFmt.format(new Date(trust.since)) : "";
    const text = {
      too_little_data: S.trust_too_little_data,
      no_recent_counts: since ? S.trust_no_recent_counts.replace("%(since)s", since) : S.trust_no_counts,
      stuck_counts: S.trust_stuck_counts.replace("%(hours)s", trust.hours).replace("%(since)s", since),
    }[trust.reason] || S.trust_too_little_data;
    return { text, warning: true };
  }
  const record = forecast.record || {};
  if (record.within === null || record.within === undefined) { return { text: "", warning: false }; }
  const flow = forecast.quantity === "flow";
  const text = (flow ? S.record_flow : S.record_people)
    .replace("%(days)s", Math.round(record.days))
    .replace("%(within)s", roundWithin(record.within, flow))
    .replace("%(horizon)s", record.horizon);
  return { text, warning: false };
}
