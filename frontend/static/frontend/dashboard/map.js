/* The MapLibre map (maplibre-gl-csp.js, a classic script: global maplibregl) of the tenant's areas,
   coloured, patterned and labelled by crowd level, in 2D or 3D. */
import { S, cfg, levelLabel } from "./config.js";
import { $, el } from "./dom.js";
import { describe, displayed } from "./levels.js";
import { addPatternImages, colorExpr } from "./map-style.js";
import { openArea } from "./area-panel.js";
import { renderBuildings, renderPois } from "./map-layers.js";
import { render, state } from "./state.js";

function addAreaLayers(map) {
  addPatternImages(map);
  map.addSource("buildings", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "buildings-3d", type: "fill-extrusion", source: "buildings", layout: { visibility: "none" },
    paint: {
      "fill-extrusion-color": "#9ea3a8", "fill-extrusion-height": ["get", "height"],
      "fill-extrusion-base": 0, "fill-extrusion-opacity": 0.9
    }
  });
  // Shared areas of other organisations under the own ones: a light fill and a dashed outline in the level's
  // colour, so that they read as someone else's picture.
  map.addSource("shared-areas", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "shared-fill", type: "fill", source: "shared-areas", paint: { "fill-color": colorExpr, "fill-opacity": 0.2 }
  });
  map.addLayer({
    id: "shared-line", type: "line", source: "shared-areas",
    paint: { "line-color": colorExpr, "line-width": 2.5, "line-dasharray": [2, 1.5] }
  });
  map.on("click", "shared-fill", (e) => {
    if (e.features.length) { openSharedPopup(e.features[0].properties.key, e.lngLat); }
  });
  map.on("mouseenter", "shared-fill", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "shared-fill", () => { map.getCanvas().style.cursor = ""; });
  map.addSource("areas", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "areas-fill", type: "fill", source: "areas", filter: ["!", ["get", "is_parent"]],
    paint: { "fill-color": colorExpr, "fill-opacity": 0.55 }
  });
  map.addLayer({
    id: "areas-pattern", type: "fill", source: "areas", filter: ["!", ["get", "is_parent"]],
    paint: { "fill-pattern": ["concat", "pat-", ["get", "lvl"]] }
  });
  map.addLayer({
    id: "areas-3d", type: "fill-extrusion", source: "areas", filter: ["!", ["get", "is_parent"]],
    layout: { visibility: "none" },
    paint: { "fill-extrusion-color": colorExpr, "fill-extrusion-height": ["get", "h"], "fill-extrusion-opacity": 0.85 }
  });
  map.addLayer({
    id: "areas-line", type: "line", source: "areas",
    paint: {
      "line-color": ["case", ["get", "is_parent"], "#14213d", "#37474f"],
      "line-width": ["case", ["get", "selected"], 4, ["get", "is_parent"], 2.5, 1.2],
      "line-dasharray": ["case", ["get", "is_parent"], ["literal", [3, 2]], ["literal", [1, 0]]]
    }
  });
  ["areas-fill", "areas-3d"].forEach((layer) => {
    map.on("click", layer, (e) => { if (e.features.length) { openArea(e.features[0].properties.slug); } });
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  });
}

export function initMap() {
  const { maplibregl } = window;
  if (!maplibregl) { return; }
  maplibregl.setWorkerUrl($("maplibre-script").dataset.workerUrl);
  const style = {
    version: 8, sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#e8ecf0" } }]
  };
  if (cfg.tileUrl) {
    style.sources.base = { type: "raster", tiles: [cfg.tileUrl], tileSize: 256 };
    style.layers.push({ id: "base", type: "raster", source: "base" });
  }
  let map;
  try {
    map = new maplibregl.Map({
      container: "map", style, center: [4.29, 52.11], zoom: 13, attributionControl: false,
      maxPitch: 70, keyboard: true
    });
  } catch (error) {
    $("map").textContent = error.message;
    $("map").classList.add("map-failed");
    return;
  }
  state.map = map;
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "top-right");
  map.on("load", () => {
    addAreaLayers(map);
    state.mapReady = true;
    render(true);
    renderBuildings();
    renderPois();
  });
}

export function setMode(threeD) {
  state.mode3d = threeD;
  $("view-2d").setAttribute("aria-pressed", String(!threeD));
  $("view-3d").setAttribute("aria-pressed", String(threeD));
  $("map").dataset.mode = threeD ? "3d" : "2d";
  if (!state.mapReady) { return; }
  const map = state.map;
  map.setLayoutProperty("areas-3d", "visibility", threeD ? "visible" : "none");
  map.setLayoutProperty("areas-fill", "visibility", threeD ? "none" : "visible");
  map.setLayoutProperty("areas-pattern", "visibility", threeD ? "none" : "visible");
  renderBuildings();
  map.easeTo({ pitch: threeD ? 55 : 0, bearing: threeD ? -20 : 0, duration: 600 });
}

/* The areas' GeoJSON as drawn at the slider's time: level, 3D height, parent and selection flags. */
function renderedData() {
  const features = state.geojson.features.map((feature) => {
    const shown = displayed(feature);
    const props = { ...feature.properties };
    delete props.status;
    props.lvl = shown.level || "none";
    props.h = Math.max(shown.density || 0, 0.02) * 250;
    props.is_parent = !!state.parents[props.slug];
    props.selected = props.slug === state.selected;
    return { type: "Feature", id: feature.id, geometry: feature.geometry, properties: props };
  });
  return { type: "FeatureCollection", features };
}

/* A shared area at the slider's time: its owner shares the live picture only, so another hour shows no data. */
export function sharedShown(feature) {
  const st = feature.properties.status;
  if (state.offset !== 0 || !st) { return { level: null, people: null, density: null, stale: false }; }
  return {
    level: st.level || feature.properties.level || null, people: st.people, density: st.density, flow: st.flow,
    flowMethod: st.flow_method, stale: !!(st.level && st.stale)
  };
}

export const sharedBy = (props) => S.shared_by.replace("%(owner)s", props.owner_name);
const sharedFeature = (key) => state.shared.features.find((f) => f.id === key);

/* The popup of a shared area: its name, whose it is and its state in words. Nothing to edit or log. */
export function openSharedPopup(key, lngLat) {
  const feature = sharedFeature(key);
  if (!state.mapReady || !feature) { return; }
  const props = feature.properties;
  const node = el("div", { className: "shared-popup", dataset: { key } }, [
    el("strong", { text: props.name }),
    el("p", { className: "muted small", text: `${sharedBy(props)} · ${S.shared_read_only}` }),
    el("p", { text: describe(sharedShown(feature)) })
  ]);
  if (state.sharedPopup) { state.sharedPopup.remove(); }
  state.sharedPopup = new window.maplibregl.Popup({ closeButton: true, maxWidth: "16rem" })
    .setLngLat(lngLat || props.centroid).setDOMContent(node).addTo(state.map);
}

/* Fly to a shared area and open its popup (from the list beside the map). */
export function showSharedArea(key) {
  const feature = sharedFeature(key);
  if (!state.mapReady || !feature || !feature.properties.centroid) { return; }
  state.map.easeTo({ center: feature.properties.centroid, zoom: Math.max(state.map.getZoom(), 15) });
  openSharedPopup(key);
}

/* The render() view of the shared areas: their layer and one labelled marker each ("Shared by ..."). */
export function renderSharedOnMap() {
  if (!state.mapReady) { return; }
  const features = state.shared.features;
  state.map.getSource("shared-areas").setData({
    type: "FeatureCollection",
    features: features.map((feature) => ({
      type: "Feature", geometry: feature.geometry,
      properties: { key: feature.id, lvl: sharedShown(feature).level || "none" }
    }))
  });
  const seen = {};
  features.forEach((feature) => {
    const props = feature.properties;
    if (!props.centroid) { return; }
    seen[feature.id] = true;
    let marker = state.sharedMarkers[feature.id];
    if (!marker) {
      const button = el("button", { type: "button", className: "shared-marker", dataset: { key: feature.id } });
      button.addEventListener("click", () => openSharedPopup(feature.id));
      marker = new window.maplibregl.Marker({ element: button }).setLngLat(props.centroid).addTo(state.map);
      state.sharedMarkers[feature.id] = marker;
    }
    marker.setLngLat(props.centroid);
    const shown = sharedShown(feature);
    const node = marker.getElement();
    [...node.classList].forEach((c) => { if (c.startsWith("lvl-")) { node.classList.remove(c); } });
    node.classList.add("shared-marker", `lvl-${shown.level || "none"}`);
    node.replaceChildren(
      el("span", { className: "marker-name", text: props.name }),
      el("span", { className: "marker-owner", text: sharedBy(props) }),
      el("span", { className: "marker-level", text: levelLabel(shown.level) + (shown.stale ? ` · ${S.stale}` : "") })
    );
    node.setAttribute("aria-label", `${props.name} (${sharedBy(props)}, ${S.shared_read_only}): ${describe(shown)}`);
  });
  Object.keys(state.sharedMarkers).forEach((key) => {
    if (!seen[key]) { state.sharedMarkers[key].remove(); delete state.sharedMarkers[key]; }
  });
  if (state.sharedPopup && !features.length) { state.sharedPopup.remove(); state.sharedPopup = null; }
}

function markerElement(feature) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "area-marker";
  button.dataset.slug = feature.properties.slug;
  button.addEventListener("click", () => openArea(feature.properties.slug));
  return button;
}

/* The render() view of the map: the areas' source and one labelled marker per area. */
export function renderAreasOnMap(fit) {
  if (!state.mapReady) { return; }
  const features = state.geojson.features;
  state.map.getSource("areas").setData(renderedData());
  const seen = {};
  features.forEach((feature) => {
    const slug = feature.properties.slug;
    seen[slug] = true;
    let marker = state.markers[slug];
    if (!marker) {
      marker = new window.maplibregl.Marker({ element: markerElement(feature) })
        .setLngLat(feature.properties.centroid).addTo(state.map);
      state.markers[slug] = marker;
    }
    const shown = displayed(feature);
    const node = marker.getElement();
    // Keep MapLibre's own marker classes (they position the element); swap only ours.
    [...node.classList].forEach((c) => { if (c.startsWith("lvl-")) { node.classList.remove(c); } });
    node.classList.add("area-marker", `lvl-${shown.level || "none"}`);
    node.classList.toggle("parent", !!state.parents[slug]);
    const name = document.createElement("span");
    name.className = "marker-name";
    name.textContent = feature.properties.name;
    const lvl = document.createElement("span");
    lvl.className = "marker-level";
    lvl.textContent = levelLabel(shown.level) + (shown.stale ? ` · ${S.stale}` : "");
    node.replaceChildren(name, lvl);
    node.setAttribute("aria-label", `${feature.properties.name}: ${describe(shown)}`);
  });
  Object.keys(state.markers).forEach((slug) => {
    if (!seen[slug]) { state.markers[slug].remove(); delete state.markers[slug]; }
  });
  // The first view takes in the own areas and those shared with this organisation.
  const boxes = [state.geojson.bbox, state.shared.features.length && state.shared.bbox].filter(Boolean);
  if (fit && boxes.length) {
    const west = Math.min(...boxes.map((b) => b[0]));
    const south = Math.min(...boxes.map((b) => b[1]));
    const east = Math.max(...boxes.map((b) => b[2]));
    const north = Math.max(...boxes.map((b) => b[3]));
    state.map.fitBounds([[west, south], [east, north]], { padding: 60, duration: 0, maxZoom: 17 });
  }
}
