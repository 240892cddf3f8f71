/* A MapLibre map (maplibre-gl-csp.js, a classic script: global maplibregl) of the areas of a joint
   operation: each filled and patterned by its level and labelled with its name, the organisation that owns
   it and its level in words. It reads no page configuration, so the operation page and the public
   operation page both draw it. */
import { addPatternImages, boxCentre, colorExpr, featuresBox } from "../dashboard/map-style.js";

function markerElement() {
  const node = document.createElement("div");
  node.className = "picture-marker";
  node.setAttribute("aria-hidden", "true");  // the list beside or below the map says the same in words
  return node;
}

/* items: [{key, geometry, name, owner, text, lvl, own}]; `text` is the level in words. */
export function createPictureMap(container, { tileUrl = "" } = {}) {
  const view = { map: null, ready: false, markers: {}, items: [], fitted: false };
  const draw = () => {
    if (!view.ready) { return; }
    const map = view.map;
    map.getSource("picture").setData({
      type: "FeatureCollection",
      features: view.items.map((item) => ({
        type: "Feature", geometry: item.geometry, properties: { lvl: item.lvl || "none", own: !!item.own }
      }))
    });
    const seen = {};
    view.items.forEach((item) => {
      const centre = boxCentre(item.geometry);
      if (!centre) { return; }
      seen[item.key] = true;
      let found = view.markers[item.key];
      if (!found) {
        found = new window.maplibregl.Marker({ element: markerElement() }).setLngLat(centre).addTo(map);
        view.markers[item.key] = found;
      }
      found.setLngLat(centre);
      const node = found.getElement();
      [...node.classList].forEach((c) => { if (c.startsWith("lvl-")) { node.classList.remove(c); } });
      node.classList.add("picture-marker", `lvl-${item.lvl || "none"}`);
      node.classList.toggle("own", !!item.own);
      node.dataset.key = item.key;
      const parts = [
        Object.assign(document.createElement("span"), { className: "marker-name", textContent: item.name }),
        Object.assign(document.createElement("span"), { className: "marker-owner", textContent: item.owner }),
        Object.assign(document.createElement("span"), { className: "marker-level", textContent: item.text })
      ];
      node.replaceChildren(...parts);
    });
    Object.keys(view.markers).forEach((key) => {
      if (!seen[key]) { view.markers[key].remove(); delete view.markers[key]; }
    });
    const box = featuresBox(view.items);
    if (!view.fitted && box) {
      map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 60, duration: 0, maxZoom: 17 });
      view.fitted = true;
    }
    container.dataset.markers = String(Object.keys(view.markers).length);
  };
  const api = { render(items) { view.items = items; draw(); }, view };
  const { maplibregl } = window;
  if (!maplibregl) { return api; }
  maplibregl.setWorkerUrl(document.getElementById("maplibre-script").dataset.workerUrl);
  const style = {
    version: 8, sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#e8ecf0" } }]
  };
  if (tileUrl) {
    style.sources.base = { type: "raster", tiles: [tileUrl], tileSize: 256 };
    style.layers.push({ id: "base", type: "raster", source: "base" });
  }
  try {
    view.map = new maplibregl.Map({
      container, style, center: [4.29, 52.11], zoom: 13, attributionControl: false, keyboard: true
    });
  } catch (error) {
    container.textContent = error.message;
    container.classList.add("map-failed");
    return api;
  }
  view.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  view.map.on("load", () => {
    const map = view.map;
    addPatternImages(map);
    map.addSource("picture", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({
      id: "picture-fill", type: "fill", source: "picture", paint: { "fill-color": colorExpr, "fill-opacity": 0.5 }
    });
    map.addLayer({
      id: "picture-pattern", type: "fill", source: "picture", paint: { "fill-pattern": ["concat", "pat-", ["get", "lvl"]] }
    });
    map.addLayer({
      id: "picture-line", type: "line", source: "picture",
      paint: { "line-color": "#37474f", "line-width": ["case", ["get", "own"], 2, 1.2] }
    });
    view.ready = true;
    container.dataset.mapReady = "true";
    draw();
  });
  return api;
}
