/* Loading the areas (GeoJSON with their live status), the crowd-level bands, the hourly history of the
   last day, the forecasts and the areas other organisations share into the dashboard's state. */
import { api } from "./api.js";
import { HOUR, S, cfg, hourStart, shortFmt } from "./config.js";
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

/* People per area and hour over the last 25 hours: {slug: {hourMs: people}}. */
export function loadHistory() {
  if (!cfg.mayViewHistory) { state.history = {}; return Promise.resolve(); }
  const start = new Date(hourStart(Date.now()) - 25 * HOUR).toISOString();
  return api(`observations/?metric=people_count&resample=hour&start=${encodeURIComponent(start)}`).then((data) => {
    const perArea = {};
    data.series.forEach((series) => {
      if (!series.area) { return; }
      const hours = perArea[series.area] = perArea[series.area] || {};
      series.points.forEach(([time, people]) => {
        const t = Date.parse(time);
        hours[t] = (hours[t] || 0) + people;
      });
    });
    // A parent without its own counts is the sum of its sub-areas (the status fusion rule).
    const features = state.geojson.features;
    features.forEach((f) => {
      const slug = f.properties.slug;
      if (perArea[slug]) { return; }
      const kids = features.filter((k) => k.properties.parent === slug);
      if (!kids.length || !kids.every((k) => perArea[k.properties.slug])) { return; }
      const sum = {};
      Object.keys(perArea[kids[0].properties.slug]).forEach((t) => {
        if (kids.every((k) => perArea[k.properties.slug][t] !== undefined)) {
          sum[t] = kids.reduce((acc, k) => acc + perArea[k.properties.slug][t], 0);
        }
      });
      perArea[slug] = sum;
    });
    state.history = perArea;
  });
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
