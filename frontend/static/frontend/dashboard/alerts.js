/* The open alerts: acknowledge one, log an action that answers it, or open its area. */
import { openActionDialog } from "./action-log.js";
import { api } from "./api.js";
import { S, cfg, timeFmt } from "./config.js";
import { $ } from "./dom.js";
import { openArea } from "./area-panel.js";
import { featureOf } from "./state.js";

function button(className, text, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = text;
  node.addEventListener("click", onClick);
  return node;
}

function alertItem(alert) {
  const li = document.createElement("li");
  li.className = `alert alert-${alert.state}`;
  li.dataset.alertId = alert.id;
  const head = document.createElement("p");
  head.className = "alert-head";
  const badge = document.createElement("span");
  badge.className = `badge lvl-${alert.level || "none"}`;
  badge.textContent = alert.level ? S[alert.level] : alert.kind;
  const when = document.createElement("time");
  when.dateTime = alert.opened_at;
  when.textContent = timeFmt.format(new Date(alert.opened_at));
  const st = document.createElement("span");
  st.className = "muted-inline";
  st.textContent = alert.state === "open"
    ? S.open
    : S.acknowledged + (alert.acknowledged_by ? ` (${alert.acknowledged_by})` : "");
  head.append(badge, when, st);
  const msg = document.createElement("p");
  msg.textContent = alert.message;
  li.append(head, msg);
  const area = alert.area && featureOf(alert.area);
  if (area) {
    li.appendChild(button("link-button", area.properties.name, () => openArea(alert.area)));
  }
  if (cfg.mayLogActions) {
    li.appendChild(button("log-action", S.log_action, () => openActionDialog({ alert })));
  }
  if (alert.state === "open" && cfg.mayAcknowledge) {
    const ack = button("ack", S.acknowledge, () => {
      ack.disabled = true;
      api(`alerts/${alert.id}/acknowledge/`, { method: "POST", body: "{}" })
        .then(loadAlerts)
        .catch(() => { ack.disabled = false; ack.textContent = S.load_error; });
    });
    li.appendChild(ack);
  }
  return li;
}

export function loadAlerts() {
  const list = $("alerts");
  if (!list || !cfg.mayReadAlerts) { return Promise.resolve(); }
  return api("alerts/?state=active&page_size=50").then((data) => {
    const alerts = data.results || data;
    if (!alerts.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = S.no_alerts;
      list.replaceChildren(none);
      return;
    }
    list.replaceChildren(...alerts.map(alertItem));
  }).catch(() => {
    const item = document.createElement("li");
    item.className = "error";
    item.textContent = S.load_error;
    list.replaceChildren(item);
  });
}
