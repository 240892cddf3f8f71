/* The operation's common action log (operations/<id>/log/): every participant's entries, newest first, each
   with its organisation, author, measure, areas, times and measured effect; and the form in which an
   operator adds an entry for the own organisation's areas (kept in its own log as well). */
import { $, S, api, cfg, checkedValues, el, fillChecks, forms, loadOwnAreas, opApi, shortFmt, timeFmt,
  zonedValue } from "./config.js";
import { areaName } from "./picture.js";

function effectText(outcome) {
  if (outcome.effect_pct === null || outcome.effect_pct === undefined) { return null; }
  const value = Math.round(outcome.effect_pct * 10) / 10;
  return `${S.effect} ${value > 0 ? "+" : ""}${value} %`;
}

function entryItem(entry) {
  const when = [];
  if (entry.started_at) { when.push(`${S.since} ${timeFmt.format(new Date(entry.started_at))}`); }
  else if (entry.planned_at) { when.push(`${S.planned_for} ${timeFmt.format(new Date(entry.planned_at))}`); }
  if (entry.ended_at) { when.push(`${S.until} ${shortFmt.format(new Date(entry.ended_at))}`); }
  const areas = entry.areas.map((slug) => areaName(entry.tenant, slug)).join(", ");
  const effects = entry.outcomes.map((o) => {
    const text = effectText(o);
    return text ? `${text} (${areaName(entry.tenant, o.area)})` : null;
  }).filter(Boolean);
  return el("li", {
    className: `action action-${entry.status}`, dataset: { actionId: String(entry.id), tenant: entry.tenant }
  }, [
    el("p", { className: "alert-head" }, [
      el("span", { className: `badge action-${entry.status}`, text: cfg.actionStatuses[entry.status] || entry.status }),
      el("strong", { text: entry.intervention }),
      el("span", { className: "log-organisation", text: entry.organisation })
    ]),
    entry.description ? el("p", { className: "log-description", text: entry.description }) : null,
    el("p", { className: "muted-inline" }, [
      [areas, when.join(" "), entry.author ? `${S.by} ${entry.author}` : ""].filter(Boolean).join(" · ")
    ]),
    effects.length ? el("p", { className: "log-effect", text: effects.join(" · ") }) : null
  ]);
}

export function loadLog() {
  const list = $("op-log");
  return opApi("log/").then((rows) => {
    list.replaceChildren(...(rows.length ? rows.map(entryItem) : [el("li", { className: "muted", text: S.no_log })]));
  }).catch(() => {
    list.replaceChildren(el("li", { className: "error", text: S.load_error }));
  });
}

/* The form's measures and the own areas; resolves when they are in (or their failure is shown). */
function fillLogForm(form) {
  return api("interventions/?page_size=200").then((data) => {
    const select = $("log-intervention");
    select.replaceChildren(...[["", S.choose], ...forms.results(data).map((t) => [t.slug, t.name])]
      .map(([value, text]) => el("option", { value, text })));
    return loadOwnAreas();
  }).then((pairs) => fillChecks($("log-areas"), pairs, "areas", S.no_own_areas))
    .catch((error) => forms.showProblem(form, error.problem))
    .then(() => { form.dataset.ready = "true"; });
}

/* Wire the form; returns a promise of its data (measures and areas) being loaded. */
export function initLogForm() {
  const form = $("log-form");
  if (!form) { return Promise.resolve(); }
  $("log-started").value = zonedValue(new Date());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    forms.clearErrors(form);
    const body = {
      intervention: $("log-intervention").value, description: $("log-description").value,
      areas: checkedValues($("log-areas")),
      started_at: forms.isoFromZoned($("log-started").value, cfg.timeZone),
      planned_at: forms.isoFromZoned($("log-planned").value, cfg.timeZone)
    };
    $("log-save").disabled = true;
    opApi("log/", { method: "POST", body }).then(() => {
      $("log-description").value = "";
      $("log-planned").value = "";
      $("log-areas").querySelectorAll("input").forEach((input) => { input.checked = false; });
      forms.setStatus(form, S.saved_entry);
      return loadLog();
    }).catch((error) => forms.showProblem(form, error.problem))
      .then(() => { $("log-save").disabled = false; });
  });
  return fillLogForm(form);
}
