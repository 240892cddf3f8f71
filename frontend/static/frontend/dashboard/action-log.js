/* The action log of the last 24 hours (end an active action) and the dialog that logs an action, with
   what was done before in similar situations when it answers an alert. */
import { api } from "./api.js";
import { HOUR, S, cfg, shortFmt, timeFmt } from "./config.js";
import { $, el, fillSelect, forms } from "./dom.js";
import { featureOf, sortedAreas, state } from "./state.js";

let interventions = null;

function loadInterventions() {
  if (interventions) { return Promise.resolve(interventions); }
  return api("interventions/?page_size=200").then((data) => {
    interventions = data.results || data;
    return interventions;
  });
}

function interventionName(slug) {
  const found = (interventions || []).find((i) => i.slug === slug);
  return found ? found.name : slug;
}

function areaName(slug) {
  const feature = state.geojson && featureOf(slug);
  return feature ? feature.properties.name : slug;
}

export function loadActions() {
  const list = $("actions");
  if (!list || !cfg.mayReadActions) { return Promise.resolve(); }
  const since = new Date(Date.now() - 24 * HOUR).toISOString();
  return Promise.all([
    api(`actions/?page_size=50&since=${encodeURIComponent(since)}`),
    loadInterventions().catch(() => [])
  ]).then(([page]) => {
    const entries = page.results || page;
    if (!entries.length) {
      list.replaceChildren(el("li", { className: "muted", text: S.no_actions }));
      return;
    }
    list.replaceChildren(...entries.map(renderAction));
  }).catch(() => {
    list.replaceChildren(el("li", { className: "error", text: S.load_error }));
  });
}

function renderAction(entry) {
  const status = el("span", {
    className: `badge action-${entry.status}`, text: cfg.actionStatuses[entry.status] || entry.status
  });
  const when = [];
  if (entry.started_at) { when.push(`${S.since} ${timeFmt.format(new Date(entry.started_at))}`); }
  if (entry.ended_at) { when.push(`${S.until} ${shortFmt.format(new Date(entry.ended_at))}`); }
  const li = el("li", { className: `action action-${entry.status}`, dataset: { actionId: entry.id } }, [
    el("p", { className: "alert-head" }, [status, el("strong", { text: interventionName(entry.intervention) })]),
    entry.description ? el("p", { text: entry.description }) : null,
    el("p", { className: "muted-inline" }, [
      `${entry.areas.map(areaName).join(", ")} · ${when.join(" ")}` +
      (entry.created_by ? ` · ${S.by} ${entry.created_by}` : "")
    ])
  ]);
  if (entry.status === "active" && cfg.mayLogActions) {
    const end = el("button", { type: "button", className: "ack end-action", text: S.end_action });
    end.addEventListener("click", () => {
      end.disabled = true;
      forms.request(`${cfg.api}actions/${entry.id}/`, {
        method: "PATCH", body: { status: "ended", ended_at: new Date().toISOString() }
      }).then(loadActions).catch((error) => {
        end.disabled = false;
        $("actions-feedback").textContent = (error.problem && error.problem.detail) || S.load_error;
      });
    });
    li.appendChild(end);
  }
  return li;
}

function renderSimilar(rows) {
  const list = $("similar-list");
  $("action-similar").hidden = false;
  if (!rows.length) {
    list.replaceChildren(el("li", { className: "muted small", text: S.no_similar }));
    return;
  }
  list.replaceChildren(...rows.map((row) => {
    const bits = [`${row.count}×`];
    if (row.median_effect_pct !== null && row.median_effect_pct !== undefined) {
      const spread = row.p25_effect_pct !== null && row.p25_effect_pct !== row.p75_effect_pct
        ? ` (${row.p25_effect_pct} … ${row.p75_effect_pct} %)` : "";
      bits.push(`${S.median_effect} ${row.median_effect_pct > 0 ? "+" : ""}${row.median_effect_pct} %${spread}`);
    }
    if (row.judged) { bits.push(`${row.judged_effective}/${row.judged} ${S.judged_effective}`); }
    if (row.low_confidence) { bits.push(`${row.low_confidence} ${S.low_confidence}`); }
    const use = el("button", { type: "button", className: "link-button", text: S.use_measure });
    use.addEventListener("click", () => { $("action-intervention").value = row.intervention; });
    return el("li", { className: "similar-row" }, [
      el("strong", { text: row.intervention_name }), ` · ${bits.join(" · ")} `, use
    ]);
  }));
}

/* options: {alert} to answer an alert (its area preselected), or {area: slug}. */
export function openActionDialog({ alert = null, area } = {}) {
  const form = $("action-form");
  forms.clearErrors(form);
  form.reset();
  $("action-alert").value = alert ? String(alert.id) : "";
  const context = $("action-context");
  context.hidden = !alert;
  context.textContent = alert ? `${S.answers_alert} ${alert.message}` : "";
  $("action-similar").hidden = true;
  $("similar-list").replaceChildren();
  const chosen = area || (alert && alert.area);
  $("action-areas").replaceChildren(...sortedAreas().map((props) => el("label", { className: "check" }, [
    el("input", { type: "checkbox", name: "areas", value: props.slug, checked: props.slug === chosen }),
    ` ${props.name}`
  ])));
  $("action-started").value = forms.localValue(new Date());
  loadInterventions().then((types) => {
    fillSelect($("action-intervention"), [["", S.choose], ...types.map((t) => [t.slug, t.name])], "");
  }).catch(() => { forms.showProblem(form, { detail: S.load_error }); });
  if (alert) {
    api(`alerts/${alert.id}/`).then((detail) => {
      if ($("action-alert").value === String(alert.id)) { renderSimilar(detail.similar || []); }
    }).catch(() => { /* the form works without it */ });
  }
  $("action-dialog").showModal();
}

function submitAction(event) {
  event.preventDefault();
  const form = $("action-form");
  const areas = [...form.querySelectorAll("input[name=areas]:checked")].map((input) => input.value);
  const body = {
    intervention: $("action-intervention").value,
    description: $("action-description").value,
    areas,
    started_at: forms.isoFromLocal($("action-started").value)
  };
  if ($("action-alert").value) { body.alerts = [parseInt($("action-alert").value, 10)]; }
  $("action-save").disabled = true;
  forms.request(`${cfg.api}actions/`, { method: "POST", body }).then(() => {
    $("action-dialog").close();
    $("actions-feedback").textContent = S.saved_action;
    return loadActions();
  }).catch((error) => {
    forms.showProblem(form, error.problem);
  }).then(() => { $("action-save").disabled = false; });
}

export function initActionDialog() {
  $("action-form").addEventListener("submit", submitAction);
}
