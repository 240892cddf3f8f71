/* The open alerts in the operation's areas (operations/<id>/alerts/), each naming the organisation that owns
   the area. Acknowledging and answering them is the owner's business, on its own dashboard. */
import { $, S, el, levelLabel, opApi, timeFmt } from "./config.js";

function alertItem(alert) {
  return el("li", { className: `alert alert-${alert.state}`, dataset: { alertId: String(alert.id), owner: alert.owner } }, [
    el("p", { className: "alert-head" }, [
      el("span", { className: `badge lvl-${alert.level || "none"}`, text: alert.level ? levelLabel(alert.level) : alert.kind }),
      el("time", { dateTime: alert.opened_at, text: timeFmt.format(new Date(alert.opened_at)) }),
      el("span", { className: "muted-inline", text: alert.state === "open" ? S.open : S.acknowledged })
    ]),
    el("p", { text: alert.message }),
    el("p", { className: "muted-inline alert-owner", text: alert.area_name ? `${alert.owner_name} · ${alert.area_name}` : alert.owner_name })
  ]);
}

export function loadAlerts() {
  const list = $("op-alerts");
  return opApi("alerts/").then((rows) => {
    const open = (rows || []).filter((alert) => !alert.resolved_at);
    list.replaceChildren(...(open.length ? open.map(alertItem) : [el("li", { className: "muted", text: S.no_alerts })]));
  }).catch(() => {
    list.replaceChildren(el("li", { className: "error", text: S.load_error }));
  });
}
