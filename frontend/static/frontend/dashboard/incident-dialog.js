/* The dialog that reports an incident in an area. */
import { S, cfg } from "./config.js";
import { $, fillSelect, forms } from "./dom.js";
import { sortedAreas } from "./state.js";

export function openIncidentDialog(slug) {
  const form = $("incident-form");
  forms.clearErrors(form);
  form.reset();
  fillSelect($("incident-area"), sortedAreas().map((p) => [p.slug, p.name]), slug);
  fillSelect($("incident-kind"), cfg.incidentKinds, "overcrowding");
  fillSelect($("incident-severity"), cfg.severities, "medium");
  $("incident-occurred").value = forms.localValue(new Date());
  $("incident-dialog").showModal();
}

function submitIncident(event) {
  event.preventDefault();
  const form = $("incident-form");
  const body = {
    area: $("incident-area").value,
    kind: $("incident-kind").value,
    severity: $("incident-severity").value,
    occurred_at: forms.isoFromLocal($("incident-occurred").value),
    description: $("incident-description").value
  };
  $("incident-save").disabled = true;
  forms.request(`${cfg.api}incidents/`, { method: "POST", body }).then(() => {
    $("incident-dialog").close();
    $("area-feedback").textContent = S.saved_incident;
  }).catch((error) => {
    forms.showProblem(form, error.problem);
  }).then(() => { $("incident-save").disabled = false; });
}

export function initIncidentDialog() {
  $("incident-form").addEventListener("submit", submitIncident);
}
