/* Crowd levels on the client: the level of a past or forecast hour (the same rule as areas.levels.assess),
   the thresholds of an area, and what an area shows at the time slider's hour. */
import { HOUR, S, THRESHOLD_LEVELS, hourStart, levelLabel } from "./config.js";
import { state } from "./state.js";

export const SEVERITY = { none: -1, quiet: 0, busy: 1, very_busy: 2, crowded: 3, critical: 4 };

function levelFor(props, people) {
  if (people === null || people === undefined || !state.bands) { return null; }
  let bands, value;
  if (props.capacity) {
    bands = props.capacity_bands || state.bands.effective_capacity_bands;
    value = 100 * people / props.capacity;
  } else {
    bands = props.density_bands || state.bands.effective_density_bands;
    value = people / props.effective_surface_m2;
  }
  let level = "quiet";
  THRESHOLD_LEVELS.forEach((key) => { if (value >= bands[key]) { level = key; } });
  return level;
}

/* People present at each level's threshold. */
export function thresholdsFor(props) {
  if (!state.bands) { return []; }
  return THRESHOLD_LEVELS.map((key) => {
    const value = props.capacity
      ? (props.capacity_bands || state.bands.effective_capacity_bands)[key] * props.capacity / 100
      : (props.density_bands || state.bands.effective_density_bands)[key] * props.effective_surface_m2;
    return { level: key, label: S[key], value };
  });
}

/* A passer-by area's forecast is in people/min per metre: its thresholds are the flow bands. */
export function flowThresholds(props) {
  if (!state.bands || !state.bands.effective_flow_bands) { return []; }
  const bands = props.flow_bands || state.bands.effective_flow_bands;
  return THRESHOLD_LEVELS.map((key) => ({ level: key, label: S[key], value: bands[key] }));
}

/* A forecast that may be drawn: the server said it is trustworthy (or did not assess it). */
export const usableForecast = (forecast) => !forecast.trust || forecast.trust.ok !== false;

/* The observed (offset < 0: the server's hourly history) or forecast (offset > 0) value of an area at the
   slider's hour. */
function peopleAt(slug, offset) {
  if (offset === 0) { return null; }
  const target = hourStart(Date.now()) + offset * HOUR;
  if (offset < 0) {
    const hist = state.history && state.history[slug];
    return hist && hist[target] !== undefined ? hist[target] : null;
  }
  const forecast = state.forecasts[slug];
  if (!forecast || !usableForecast(forecast)) { return null; }
  const p = forecast.points.find((point) => Date.parse(point.time) === target);
  if (!p) { return null; }
  return forecast.quantity === "flow" ? { flow: p.p50, level: p.level } : { people: p.p50, level: p.level };
}

/* What an area shows at the slider's time: its live status, or the past or forecast hour. */
export function displayed(feature) {
  const props = feature.properties;
  const st = props.status || {};
  if (state.offset === 0) {
    // With no data at all there is nothing to call stale.
    return {
      level: st.level || null, people: st.people, density: st.density, flow: st.flow,
      flowMethod: st.flow_method, stale: !!(st.level && st.stale)
    };
  }
  const at = peopleAt(props.slug, state.offset);
  if (!at) { return { level: null, people: null, density: null, stale: false }; }
  if (at.flow !== undefined) {
    return {
      level: at.level, people: null, density: at.density === undefined ? null : at.density, flow: at.flow,
      flowMethod: at.flowMethod, stale: false
    };
  }
  const density = at.people / props.effective_surface_m2;
  return { level: at.level || levelFor(props, at.people), people: at.people, density, stale: false };
}

/* Passer-by areas: a flow through counting lines, not people present (areas.levels says how). */
export const hasFlow = (shown) => shown.flow !== null && shown.flow !== undefined;
export const flowText = (shown) => `${shown.flow.toFixed(1)} ${S.flow}`;
export function flowBasis(shown) {
  if (shown.flowMethod === "weidmann" && shown.density !== null && shown.density !== undefined) {
    return `≈ ${shown.density.toFixed(2)} ${S.density} (${S.flow_weidmann})`;
  }
  return shown.flowMethod ? `(${S.flow_fruin})` : "";
}

/* "Busy · 120 people · stale": an area's state in words (levels must read without colour). */
export function describe(shown) {
  const parts = [levelLabel(shown.level)];
  if (shown.people !== null && shown.people !== undefined) { parts.push(`${Math.round(shown.people)} ${S.people}`); }
  if (hasFlow(shown)) { parts.push(flowText(shown)); }
  if (shown.stale) { parts.push(S.stale); }
  return parts.join(" · ");
}
