/* Loading the areas (GeoJSON with their live status), the crowd-level bands, the hourly history of the
   last day, the forecasts and the areas other organisations share into the dashboard's state. */
import { api } from "./api.js";
import { S, cfg, hourStart, shortFmt } from "./config.js";
import { $ } from "./dom.js";
import { boxCentre } from "./map-style.js";
import { render, state } from "./state.js";

export function loadBands() {
  return api("crowd-levels/").then((bands) => { state.bands = bands; });
}

export function loadAreas(fit) {
  return api("areas.geojson").then((data) => {
    state.geojson = data;
    $("updated").textContent = `${S.updated} ${shortFmt.format(new Date())}`;
    $("updated").classList.remove("error");
    render(fit);
  }).catch(() => {
    $("updated").textContent = S.load_error;
    $("updated").classList.add("error");
  });
}

/* The areas other organisations share with this tenant, with their live status when it is shared. A failed
   request shows nothing shared (and says why in the console): the own picture carries on regardless. */
export function loadSharedAreas() {
  if (!cfg.mayViewShared) { return Promise.resolve(); }
  return api("shared/areas/").then((data) => {
    const features = (data && Array.isArray(data.features) ? data.features : [])
      .filter((f) => f.geometry && f.properties);
    features.forEach((f) => { f.properties.centroid = boxCentre(f.geometry); });
    state.shared = { type: "FeatureCollection", features, bbox: data.bbox };
  }).catch((error) => {
    console.warn("Shared areas not loaded:", error.message);
    state.shared = { type: "FeatureCollection", features: [] };
  }).then(() => {
    render(false);
    $("dashboard").dataset.sharedReady = "true";
  });
}

/* Each area's whole hours of the last 25 hours, by the server's fusion rule (areas/history/): people present,
   or for a passer-by area the flow in persons/min/m, with the level of that hour:
   {slug: {hourMs: {people, flow, level}}}. A parent without its own counts is the sum of its sub-areas. */
export function loadHistory() {
  if (!cfg.mayViewHistory) { state.history = {}; return Promise.resolve(); }
  return api("areas/history/?hours=25").then((data) => {
    const perArea = {};
    data.areas.forEach((area) => {
      const hours = perArea[area.slug] = {};
      area.points.forEach((p) => {
        hours[Date.parse(p.time)] = area.quantity === "flow"
          ? { flow: p.flow, level: p.level, density: p.density, flowMethod: area.flow_method }
          : { people: p.people, level: p.level };
      });
    });
    state.history = perArea;
    state.historyHour = hourStart(Date.now());  // loaded again once a new hour is whole
  });
}

/* The observed value of an area's hours for its chart: [[ms, people or flow]] in time order. */
export function observedPoints(slug) {
  const hours = (state.history && state.history[slug]) || {};
  return Object.keys(hours).map(Number).sort((a, b) => a - b)
    .map((t) => [t, hours[t].flow !== undefined ? hours[t].flow : hours[t].people]);
}

/* An area's forecast, fetched once per page view. */
export function loadForecast(feature) {
  const slug = feature.properties.slug;
  if (state.forecasts[slug]) { return Promise.resolve(state.forecasts[slug]); }
  return api(`areas/${feature.properties.id}/forecast/`).then((data) => {
    state.forecasts[slug] = data;
    return data;
  });
}

export const loadAllForecasts = () => Promise.all(state.geojson.features.map(loadForecast));
