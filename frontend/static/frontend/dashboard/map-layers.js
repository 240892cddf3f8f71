/* Map layers beside the areas: buildings in 3D, transport stops and parking garages (markers on the map
   and a list in words), and a weather summary. */
import { api } from "./api.js";
import { S, cfg, shortFmt } from "./config.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

const POI_METRICS = ["transit_arrivals", "transit_occupancy", "parking_vacant", "parking_capacity"];
const WEATHER_METRICS = ["temperature", "precipitation", "wind_speed"];
const LABEL_SUFFIX = / (arrivals|occupancy|vacant spaces|capacity)$/;

export function loadBuildings() {
  if (!cfg.mayViewBuildings) { return Promise.resolve(); }
  return api("buildings.geojson").then((data) => {
    state.buildings = data;
    const toggle = $("layer-buildings");
    toggle.disabled = !data.features.length;
    toggle.parentNode.title = data.features.length ? "" : S.no_buildings;
    renderBuildings();
  }).catch(() => { /* the map works without buildings */ });
}

export function renderBuildings() {
  const count = state.buildings ? state.buildings.features.length : 0;
  const shown = state.mode3d && state.layers.buildings && count > 0;
  $("map").dataset.buildings = shown ? String(count) : "0";
  if (!state.mapReady) { return; }
  if (state.buildings) { state.map.getSource("buildings").setData(state.buildings); }
  state.map.setLayoutProperty("buildings-3d", "visibility", shown ? "visible" : "none");
}

/* Stops and garages: the series of one place (same source, facility or position) become one point. */
function groupPois(features) {
  const groups = {};
  const order = [];
  features.forEach((f) => {
    const p = f.properties;
    if (!POI_METRICS.includes(p.metric)) { return; }
    const kind = p.metric.startsWith("parking") ? "parking" : "transit";
    const id = `${kind}|${p.source}|${p.facility || f.geometry.coordinates.join(",")}`;
    if (!groups[id]) {
      groups[id] = { id, kind, coordinates: f.geometry.coordinates, name: "", values: {} };
      order.push(id);
    }
    const group = groups[id];
    group.values[p.metric] = p;
    if (!group.name || p.metric === "transit_arrivals" || p.metric === "parking_vacant") {
      group.name = (p.name || p.facility || p.key).replace(LABEL_SUFFIX, "");
    }
  });
  return order.map((id) => groups[id]);
}

const ageText = (iso) =>
  iso ? `${Math.round((Date.now() - Date.parse(iso)) / 60000)} ${S.minutes_old}` : S.no_data;

function poiText(poi) {
  const v = poi.values;
  if (poi.kind === "parking") {
    const vacant = v.parking_vacant;
    const capacity = v.parking_capacity;
    if (!vacant || vacant.latest_value === null) { return S.no_data; }
    let text = vacant.latest_value === 0 ? S.full : `${S.free} ${Math.round(vacant.latest_value)}`;
    if (capacity && capacity.latest_value !== null) { text += ` / ${Math.round(capacity.latest_value)}`; }
    return text;
  }
  const bits = [];
  if (v.transit_arrivals && v.transit_arrivals.latest_value !== null) {
    bits.push(`${Math.round(v.transit_arrivals.latest_value)} ${S.arrivals}`);
  }
  if (v.transit_occupancy && v.transit_occupancy.latest_value !== null) {
    bits.push(`${S.occupancy} ${Math.round(v.transit_occupancy.latest_value)} %`);
  }
  return bits.length ? bits.join(" · ") : S.no_data;
}

const poiMain = (poi) =>
  poi.values[poi.kind === "parking" ? "parking_vacant" : "transit_arrivals"] || poi.values[Object.keys(poi.values)[0]];

export function renderPois() {
  const seen = {};
  let visible = 0;
  state.pois.forEach((poi) => {
    const main = poiMain(poi);
    const stale = !main || main.stale;
    const on = state.layers[poi.kind];
    if (state.mapReady) {
      seen[poi.id] = true;
      let marker = state.poiMarkers[poi.id];
      if (!marker) {
        // The list beside the map says the same in words: the marker is a picture of it.
        const node = el("div", { className: `poi-marker poi-${poi.kind}`, "aria-hidden": "true" });
        marker = new window.maplibregl.Marker({ element: node, anchor: "bottom-left" })
          .setLngLat(poi.coordinates).addTo(state.map);
        node.removeAttribute("tabindex");
        state.poiMarkers[poi.id] = marker;
      }
      const element = marker.getElement();
      element.classList.toggle("stale", stale);
      element.classList.toggle("full", poi.kind === "parking" && !!main && main.latest_value === 0);
      element.hidden = !on;
      element.replaceChildren(
        el("span", { className: "poi-icon", text: poi.kind === "parking" ? "P" : "T" }),
        el("span", { className: "poi-text", text: poiText(poi) })
      );
      element.title = poi.name;
    }
    if (on) { visible += 1; }
  });
  Object.keys(state.poiMarkers).forEach((id) => {
    if (!seen[id]) { state.poiMarkers[id].remove(); delete state.poiMarkers[id]; }
  });
  $("map").dataset.pois = String(visible);
  renderPoiList();
}

function renderPoiList() {
  const panel = $("poi-panel");
  if (!panel) { return; }
  const pois = state.pois.filter((poi) => state.layers[poi.kind]);
  panel.hidden = !pois.length;
  $("poi-list").replaceChildren(...pois.map((poi) => {
    const main = poiMain(poi);
    const stale = !main || main.stale;
    const go = el("button", { type: "button", className: "poi-item", dataset: { kind: poi.kind } }, [
      el("span", { className: `poi-icon poi-${poi.kind}`, text: poi.kind === "parking" ? "P" : "T", "aria-hidden": "true" }),
      el("span", { className: "visually-hidden", text: poi.kind === "parking" ? `${S.parking_garage}: ` : `${S.stop}: ` }),
      el("span", { text: poi.name }),
      el("span", {
        className: "muted-inline",
        text: `${poiText(poi)}${stale ? ` · ${S.stale}` : ""} · ${ageText(main && main.latest_time)}`
      })
    ]);
    go.addEventListener("click", () => {
      if (state.mapReady) { state.map.easeTo({ center: poi.coordinates, zoom: Math.max(state.map.getZoom(), 17) }); }
    });
    return el("li", {}, [go]);
  }));
}

/* Keep the freshest series of each weather metric. */
function pickWeather(series) {
  series.forEach((s) => {
    if (!WEATHER_METRICS.includes(s.metric) || s.latest_value === null || !s.latest_time) { return; }
    const have = state.weather[s.metric];
    if (!have || Date.parse(s.latest_time) > Date.parse(have.latest_time)) { state.weather[s.metric] = s; }
  });
}

export function loadLayers(withWeather) {
  if (!cfg.mayViewHistory) { return Promise.resolve(); }
  const metrics = POI_METRICS.concat(WEATHER_METRICS).join(",");
  return api(`series.geojson?metric=${metrics}`).then((data) => {
    state.pois = groupPois(data.features);
    renderPois();
    if (!withWeather) { return null; }
    state.weather = {};
    pickWeather(data.features.map((f) => f.properties));
    // Weather without a position (one station for the whole town) is not in the map layer: ask the list.
    const missing = WEATHER_METRICS.filter((m) => !state.weather[m]);
    return Promise.all(missing.map((m) =>
      api(`series/?page_size=50&metric=${m}`).then((list) => { pickWeather(list.results || list); })
    )).then(renderWeather);
  }).catch(() => { /* the areas carry on; the next refresh tries again */ });
}

function renderWeather() {
  const rows = [["temperature", S.temperature], ["precipitation", S.precipitation], ["wind_speed", S.wind]];
  const items = [];
  let newest = null;
  rows.forEach(([metric, label]) => {
    const s = state.weather[metric];
    if (!s) { return; }
    const value = Math.round(s.latest_value * 10) / 10;
    items.push(el("dt", { text: label }), el("dd", { dataset: { metric }, text: `${value.toLocaleString(cfg.language)} ${s.unit}` }));
    if (!newest || Date.parse(s.latest_time) > Date.parse(newest)) { newest = s.latest_time; }
  });
  if (newest) { items.push(el("dt", { text: S.as_of }), el("dd", { text: shortFmt.format(new Date(newest)) })); }
  $("weather-values").replaceChildren(...items);
  $("weather-box").hidden = !items.length || !state.layers.weather;
}

/* The layer check boxes; roles without the series see the buildings' box only. */
export function initLayerToggles() {
  ["buildings", "transit", "parking", "weather"].forEach((name) => {
    const toggle = $(`layer-${name}`);
    if (!toggle) { return; }
    toggle.addEventListener("change", (event) => {
      state.layers[name] = event.target.checked;
      if (name === "buildings") { renderBuildings(); }
      else if (name === "weather") { renderWeather(); }
      else { renderPois(); }
    });
  });
}
