/* The operation's common picture (operations/<id>/picture/): every area the participants brought in, the
   own ones included, on the map and in a list grouped by the organisation that owns it, with its level,
   people and trend when the owner shares its status, and the forecast level of the next hour and the
   highest within 3 hours when it shares forecasts. */
import { $, S, cfg, el, levelLabel, opApi, shortFmt } from "./config.js";

const SEVERITY = { none: -1, quiet: 0, busy: 1, very_busy: 2, crowded: 3, critical: 4 };
let features = [];

/* The name of an area of the picture by its owner's slug and its own slug (the log names areas by slug). */
export function areaName(owner, slug) {
  const found = features.find((f) => f.properties.owner === owner && f.properties.slug === slug);
  return found ? found.properties.name : slug;
}

const levelOf = (props) => (props.status && props.status.level) || props.level || null;

function describe(props) {
  const st = props.status;
  if (!st) { return S.not_shared; }
  const bits = [levelLabel(levelOf(props))];
  if (st.people !== null && st.people !== undefined) { bits.push(`${Math.round(st.people)} ${S.people}`); }
  const trend = st.trend && st.trend["15m"];
  if (trend) { bits.push(S[trend] || trend); }
  if (st.level && st.stale) { bits.push(S.stale); }
  return bits.join(" · ");
}

function forecastText(props) {
  const bits = [];
  if (props.forecast_level) { bits.push(`${S.next_hour}: ${levelLabel(props.forecast_level)}`); }
  if (props.forecast_level_3h) { bits.push(`${S.within_3h}: ${levelLabel(props.forecast_level_3h)}`); }
  return bits.join(" · ");
}

function areaItem(feature) {
  const props = feature.properties;
  const level = levelOf(props);
  const forecast = forecastText(props);
  return el("li", { className: "op-area", dataset: { owner: props.owner, slug: props.slug } }, [
    el("span", { className: `badge lvl-${level || "none"}`, text: props.status ? levelLabel(level) : "—" }),
    el("span", { className: "op-area-name", text: props.name }),
    el("span", { className: "muted-inline op-area-state", text: describe(props) }),
    forecast ? el("span", { className: "muted-inline op-area-forecast", text: forecast }) : null
  ]);
}

function renderStatusList() {
  const box = $("op-status");
  const groups = {};
  features.forEach((feature) => {
    const owner = feature.properties.owner;
    groups[owner] = groups[owner] || { name: feature.properties.owner_name, items: [] };
    groups[owner].items.push(feature);
  });
  // The own organisation first, then the others by name.
  const owners = Object.keys(groups).sort((a, b) =>
    (b === cfg.tenant) - (a === cfg.tenant) || groups[a].name.localeCompare(groups[b].name));
  if (!owners.length) {
    box.replaceChildren(el("p", { className: "muted small", text: S.no_areas }));
    return;
  }
  box.replaceChildren(...owners.map((owner) => {
    const { name, items } = groups[owner];
    items.sort((a, b) =>
      SEVERITY[levelOf(b.properties) || "none"] - SEVERITY[levelOf(a.properties) || "none"]
      || a.properties.name.localeCompare(b.properties.name));
    const id = `op-group-${owner}`;
    return el("section", { className: "op-group", dataset: { owner }, "aria-labelledby": id }, [
      el("h3", { id }, [name, owner === cfg.tenant ? el("span", { className: "badge shared-badge", text: S.own }) : null]),
      el("ul", { className: "area-list" }, items.map(areaItem))
    ]);
  }));
}

const mapItem = (feature) => {
  const props = feature.properties;
  return {
    key: feature.id || `${props.owner}/${props.slug}`, geometry: feature.geometry, name: props.name,
    owner: props.owner_name, lvl: levelOf(props) || "none", own: props.owner === cfg.tenant,
    text: props.status ? levelLabel(levelOf(props)) + (props.status.stale ? ` · ${S.stale}` : "") : S.not_shared
  };
};

/* Fetch the picture and draw it on `map` (picture-map.js) and in the list. */
export function loadPicture(map) {
  return opApi("picture/").then((data) => {
    features = (data && Array.isArray(data.features) ? data.features : []).filter((f) => f.geometry && f.properties);
    map.render(features.map(mapItem));
    renderStatusList();
    $("updated").textContent = `${S.updated} ${shortFmt.format(new Date())}`;
    $("updated").classList.remove("error");
  }).catch(() => {
    $("updated").textContent = S.load_error;
    $("updated").classList.add("error");
  });
}
