/* What the dashboard knows and shows: one shared state object, and render(), which hands it to every view
   registered with onRender (the map, the area list, the area panel) so no view imports another. */
export const state = {
  geojson: null, offset: 0, selected: null, mode3d: false, bands: null, history: null,
  forecasts: {}, statuses: {}, markers: {}, map: null, mapReady: false, parents: {},
  buildings: null, pois: [], poiMarkers: {}, weather: {},
  layers: { buildings: true, transit: true, parking: true, weather: true },
  // Areas other organisations share with this one (shared/areas/): drawn and listed apart, never edited.
  shared: { type: "FeatureCollection", features: [] }, sharedMarkers: {}, sharedPopup: null
};

const renderers = [];

export function onRender(renderer) { renderers.push(renderer); }

/* Redraw every view; `fit` asks the map to fit the areas' bounds. */
export function render(fit) {
  if (!state.geojson) { return; }
  state.parents = {};
  state.geojson.features.forEach((f) => { if (f.properties.parent) { state.parents[f.properties.parent] = true; } });
  renderers.forEach((renderer) => renderer(fit));
}

// Before the areas have loaded there is no feature yet (an alert then shows without its area link).
export const featureOf = (slug) =>
  state.geojson ? state.geojson.features.find((f) => f.properties.slug === slug) : undefined;

export const sortedAreas = () =>
  state.geojson.features.map((f) => f.properties).sort((a, b) => a.name.localeCompare(b.name));
