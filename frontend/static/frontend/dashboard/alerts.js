/* The open alerts: acknowledge one, log an action that answers it, or open its area; below them the open
   alerts other organisations share with this one, named by their owner. */
import { openActionDialog } from "./action-log.js";
import { api } from "./api.js";
import { S, cfg, timeFmt } from "./config.js";
import { $, el } from "./dom.js";
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

/* An alert another organisation shares: what, where and whose; acknowledging and answering it is the
   owner's business, so there are no buttons. */
function sharedAlertItem(alert) {
  const owner = S.shared_by.replace("%(owner)s", alert.owner_name);
  return el("li", {
    className: `alert alert-${alert.state} alert-shared`, dataset: { sharedAlert: `${alert.owner}/${alert.id}` }
  }, [
    el("p", { className: "alert-head" }, [
      el("span", { className: `badge lvl-${alert.level || "none"}`, text: alert.level ? S[alert.level] : alert.kind }),
      el("time", { dateTime: alert.opened_at, text: timeFmt.format(new Date(alert.opened_at)) }),
      el("span", { className: "muted-inline", text: alert.state === "open" ? S.open : S.acknowledged }),
      el("span", { className: "badge shared-badge", text: S.shared })
    ]),
    el("p", { text: alert.message }),
    el("p", { className: "muted-inline alert-owner", text: alert.area_name ? `${owner} · ${alert.area_name}` : owner })
  ]);
}

/* The open alerts other organisations share; none when the request fails (logged, the own list carries on). */
function loadSharedAlerts() {
  if (!cfg.mayViewShared) { return Promise.resolve([]); }
  return api("shared/alerts/").then((rows) => rows.filter((alert) => !alert.resolved_at)).catch((error) => {
    console.warn("Shared alerts not loaded:", error.message);
    return [];
  });
}

export function loadAlerts() {
  const list = $("alerts");
  if (!list || !cfg.mayReadAlerts) { return Promise.resolve(); }
  const own = api("alerts/?state=active&page_size=50").then((data) => data.results || data).catch(() => null);
  return Promise.all([own, loadSharedAlerts()]).then(([alerts, shared]) => {
    const items = alerts === null
      ? [el("li", { className: "error", text: S.load_error })]
      : alerts.map(alertItem);
    items.push(...shared.map(sharedAlertItem));
    if (!items.length) { items.push(el("li", { className: "muted", text: S.no_alerts })); }
    list.replaceChildren(...items);
  });
}
