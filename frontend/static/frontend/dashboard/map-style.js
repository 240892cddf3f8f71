/* How a crowd level looks on a MapLibre map: its colour, and a dot or hatch pattern so that the map reads
   without colour. No page configuration is read here: the dashboard, the operation pages and the public
   operation page share it. */
export const COLORS = {
  quiet: "#2e7d32", busy: "#f9a825", very_busy: "#ef6c00", crowded: "#c62828", critical: "#6a1b9a",
  none: "#9e9e9e"
};
export const PATTERN_LEVELS = ["quiet", "busy", "very_busy", "crowded", "critical", "none"];

/* A MapLibre expression: the colour of the feature's `lvl` property. */
export const colorExpr = ["match", ["get", "lvl"]];
Object.keys(COLORS).forEach((level) => { if (level !== "none") { colorExpr.push(level, COLORS[level]); } });
colorExpr.push(COLORS.none);

/* A dot or hatch pattern per level, so that the map reads without colour. */
export function patternImage(level) {
  const size = 16;
  const data = new Uint8Array(size * size * 4);
  const dot = (px, py) => {
    const i = (py * size + px) * 4;
    data[i] = 20; data[i + 1] = 20; data[i + 2] = 20; data[i + 3] = 150;
  };
  for (let py = 0; py < size; py += 1) {
    for (let px = 0; px < size; px += 1) {
      if (level === "busy" && px % 8 === 0 && py % 8 === 0) { dot(px, py); }
      if (level === "very_busy" && (px + py) % 8 === 0) { dot(px, py); }
      if (level === "crowded" && ((px + py) % 6 === 0 || (px - py + 16) % 6 === 0)) { dot(px, py); }
      if (level === "critical" && ((px + py) % 4 === 0 || (px - py + 16) % 4 === 0)) { dot(px, py); }
      if (level === "none" && px % 4 === 0 && py % 4 === 0) { dot(px, py); }
    }
  }
  return { width: size, height: size, data };
}

/* Register the level patterns (images "pat-<level>") on a loaded map. */
export function addPatternImages(map) {
  PATTERN_LEVELS.forEach((level) => { map.addImage(`pat-${level}`, patternImage(level)); });
}

/* [west, south, east, north] of some GeoJSON geometries, or null when they have no coordinates. */
function bounds(geometries) {
  let west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
  const walk = (coords) => {
    if (typeof coords[0] === "number") {
      west = Math.min(west, coords[0]); east = Math.max(east, coords[0]);
      south = Math.min(south, coords[1]); north = Math.max(north, coords[1]);
      return;
    }
    coords.forEach(walk);
  };
  geometries.forEach((geometry) => walk((geometry && geometry.coordinates) || []));
  return west <= east ? [west, south, east, north] : null;
}

/* The middle of a polygon's bounding box: where the label of an area goes when no centroid comes with it. */
export function boxCentre(geometry) {
  const box = bounds([geometry]);
  return box ? [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2] : null;
}

/* The bounding box of some GeoJSON features, or null. */
export const featuresBox = (features) => bounds(features.map((f) => f.geometry));
