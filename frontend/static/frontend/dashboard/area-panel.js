/* The panel of one area: its state in words, the forecast chart, the model and its sources. */
import { api } from "./api.js";
import { loadForecast, loadHistory, observedPoints } from "./area-data.js";
import { S, cfg, levelLabel } from "./config.js";
import { $ } from "./dom.js";
import { forecastNote, modelText, renderForecastChart } from "./forecast-chart.js";
import { displayed, flowBasis, flowText, hasFlow } from "./levels.js";
import { featureOf, render, state } from "./state.js";

/* The render() view of the panel: the selected area's summary at the slider's time. */
export function renderPanelSummary() {
  if (!state.selected) { return; }
  const feature = featureOf(state.selected);
  if (!feature) { return; }
  const shown = displayed(feature);
  const props = feature.properties;
  const parts = [levelLabel(shown.level)];
  if (shown.people !== null && shown.people !== undefined) {
    parts.push(`${Math.round(shown.people)} ${S.people}`);
    parts.push(props.capacity
      ? `${Math.round(100 * shown.people / props.capacity)}% ${S.capacity}`
      : `${shown.density.toFixed(2)} ${S.density}`);
  }
  if (hasFlow(shown)) {
    parts.push(flowText(shown));
    if (flowBasis(shown)) { parts.push(flowBasis(shown)); }
  }
  if (state.offset === 0 && props.status && props.status.trend && props.status.trend["15m"]) {
    parts.push(S[props.status.trend["15m"]]);
  }
  if (shown.stale) { parts.push(S.stale); }
  const summary = $("area-summary");
  summary.className = `summary lvl-${shown.level || "none"}`;
  summary.textContent = parts.join(" · ");
}

/* What the chart shows: people against the capacity or surface, or a passer-by area's flow through its
   counting lines in people/min per metre (no people present, no surface: a line has none). */
function chartCaption(props, flow) {
  if (flow) { return props.flow_method === "weidmann" ? S.flow : `${S.flow} · ${S.flow_fruin}`; }
  const basis = props.capacity
    ? `${S.capacity} ${props.capacity}`
    : `${S.surface} ${Math.round(props.effective_surface_m2).toLocaleString()} m²`;
  return `${S.chart_title} (${basis})`;
}

export function openArea(slug) {
  const feature = featureOf(slug);
  if (!feature) { return; }
  state.selected = slug;
  const props = feature.properties;
  const panel = $("area-panel");
  panel.hidden = false;
  panel.dataset.slug = slug;
  $("area-title").textContent = props.name;
  // A passer-by area's live flow says what its chart is in until its forecast (quantity "flow") confirms it.
  $("chart-caption").textContent = chartCaption(props, hasFlow(props.status || {}));
  render(false);
  panel.focus();
  const now = Date.now();
  // The past hours come from the areas' hourly history (people, or a passer-by area's flow), fetched anew.
  const past = cfg.mayViewHistory ? loadHistory() : Promise.resolve();
  $("area-forecast-note").hidden = true;
  Promise.all([past, loadForecast(feature), api("areas/status/")]).then(([, forecast, status]) => {
    if (state.selected !== slug) { return; }
    const points = observedPoints(slug);
    $("chart-caption").textContent = chartCaption(props, forecast.quantity === "flow");
    renderForecastChart($("area-chart"), { props, forecast, observed: points, now });
    $("area-model").textContent = modelText(forecast);
    const note = forecastNote(forecast);
    const noteEl = $("area-forecast-note");
    noteEl.textContent = note.text;
    noteEl.hidden = !note.text;
    noteEl.className = note.warning ? "forecast-note warning" : "forecast-note";
    const area = status.areas.find((a) => a.slug === slug);
    renderSources(area ? area.sources : []);
  }).catch(() => {
    $("area-model").textContent = S.load_error;
  });
}

function renderSources(sources) {
  const list = $("area-sources");
  if (!sources.length) {
    const empty = document.createElement("li");
    empty.textContent = S.no_sources;
    list.replaceChildren(empty);
    return;
  }
  list.replaceChildren(...sources.map((s) => {
    const li = document.createElement("li");
    const fresh = document.createElement("span");
    fresh.className = `badge ${s.stale ? "status-stale" : "status-ok"}`;
    fresh.textContent = s.stale ? S.stale : S.fresh;
    const text = document.createElement("span");
    const age = s.time ? `${Math.round((Date.now() - Date.parse(s.time)) / 60000)} ${S.minutes_old}` : "—";
    text.textContent = `${s.source} / ${s.series} (${s.metric}) · ${age}`;
    li.append(fresh, text);
    return li;
  }));
}

export function closeArea() {
  state.selected = null;
  $("area-panel").hidden = true;
  render(false);
}
