/* The list of areas beside the map, the most crowded first, each a button that opens its panel. */
import { S, levelLabel } from "./config.js";
import { $, el } from "./dom.js";
import { SEVERITY, displayed, flowText, hasFlow } from "./levels.js";
import { openArea } from "./area-panel.js";
import { sharedBy, sharedShown, showSharedArea } from "./map.js";
import { state } from "./state.js";

function areaItem({ feature, shown }) {
  const props = feature.properties;
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "area-item";
  button.dataset.slug = props.slug;
  if (props.slug === state.selected) { button.setAttribute("aria-current", "true"); }
  const badge = document.createElement("span");
  badge.className = `badge lvl-${shown.level || "none"}`;
  badge.textContent = levelLabel(shown.level);
  const name = document.createElement("span");
  name.textContent = props.name;
  const extra = document.createElement("span");
  extra.className = "muted-inline";
  const bits = [];
  if (shown.people !== null && shown.people !== undefined) { bits.push(Math.round(shown.people)); }
  if (hasFlow(shown)) { bits.push(flowText(shown)); }
  const trend = state.offset === 0 && props.status && props.status.trend;
  if (trend && trend["15m"]) { bits.push(S[trend["15m"]] || trend["15m"]); }
  if (shown.stale) { bits.push(S.stale); }
  extra.textContent = bits.join(" · ");
  button.append(badge, name, extra);
  button.addEventListener("click", () => openArea(props.slug));
  li.appendChild(button);
  return li;
}

export function renderAreaList() {
  const items = state.geojson.features.map((feature) => ({ feature, shown: displayed(feature) }));
  items.sort((a, b) =>
    SEVERITY[b.shown.level || "none"] - SEVERITY[a.shown.level || "none"]
    || a.feature.properties.name.localeCompare(b.feature.properties.name));
  $("area-list").replaceChildren(...items.map(areaItem));
}

/* A shared area in the list: its level and name; the button only shows it on the map (no panel, no log). */
function sharedItem({ feature, shown }) {
  const props = feature.properties;
  const bits = [];
  if (shown.people !== null && shown.people !== undefined) { bits.push(Math.round(shown.people)); }
  if (hasFlow(shown)) { bits.push(flowText(shown)); }
  if (shown.stale) { bits.push(S.stale); }
  const button = el("button", {
    type: "button", className: "area-item shared-item", dataset: { key: feature.id, owner: props.owner },
    "aria-label": `${props.name} (${sharedBy(props)}, ${S.shared_read_only}): ${levelLabel(shown.level)}`
  }, [
    el("span", { className: `badge lvl-${shown.level || "none"}`, text: levelLabel(shown.level) }),
    el("span", { text: props.name }),
    el("span", { className: "muted-inline", text: bits.join(" · ") })
  ]);
  button.addEventListener("click", () => showSharedArea(feature.id));
  return el("li", {}, [button]);
}

/* The render() view of the shared areas beside the map: one group per owning organisation, headed by its
   name and marked shared and read-only; hidden when nothing is shared. */
export function renderSharedList() {
  const box = $("shared-areas");
  if (!box) { return; }
  const groups = {};
  state.shared.features.forEach((feature) => {
    const owner = feature.properties.owner;
    groups[owner] = groups[owner] || { name: feature.properties.owner_name, items: [] };
    groups[owner].items.push({ feature, shown: sharedShown(feature) });
  });
  const owners = Object.keys(groups).sort((a, b) => groups[a].name.localeCompare(groups[b].name));
  box.hidden = !owners.length;
  box.replaceChildren(...owners.map((owner) => {
    const { name, items } = groups[owner];
    items.sort((a, b) =>
      SEVERITY[b.shown.level || "none"] - SEVERITY[a.shown.level || "none"]
      || a.feature.properties.name.localeCompare(b.feature.properties.name));
    const id = `shared-group-${owner}`;
    return el("section", { className: "shared-group", dataset: { owner }, "aria-labelledby": id }, [
      el("h3", { id }, [name, " ", el("span", { className: "badge shared-badge", text: S.shared_read_only })]),
      el("ul", { className: "area-list" }, items.map(sharedItem))
    ]);
  }));
}
