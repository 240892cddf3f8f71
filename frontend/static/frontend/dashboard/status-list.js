/* The list of areas beside the map, the most crowded first, each a button that opens its panel. */
import { S, levelLabel } from "./config.js";
import { $ } from "./dom.js";
import { SEVERITY, displayed, flowText, hasFlow } from "./levels.js";
import { openArea } from "./area-panel.js";
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
