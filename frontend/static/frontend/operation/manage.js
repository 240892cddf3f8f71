/* What a participant does in the operation besides the log: operators go on or off duty; admins bring the
   own organisation's areas in, and the lead invites organisations and closes the operation, while any
   other participant may leave it. */
import { $, S, cfg, checkedValues, el, fillChecks, forms, loadOwnAreas, opApi, twoClicks } from "./config.js";

function showDuty(onDuty) {
  $("duty-people").textContent = onDuty.length ? `${S.on_duty_now} ${onDuty.join(", ")}` : S.nobody_on_duty;
  $("duty-toggle").checked = onDuty.includes(cfg.username);
}

function initDuty() {
  const form = $("duty-form");
  if (!form) { return; }
  showDuty(cfg.onDuty);
  $("duty-toggle").addEventListener("change", () => {
    const wanted = $("duty-toggle").checked;
    forms.clearErrors(form);
    $("duty-toggle").disabled = true;
    opApi("duty/", { method: "POST", body: { on_duty: wanted } }).then((operation) => {
      showDuty(operation.on_duty);
    }).catch((error) => {
      $("duty-toggle").checked = !wanted;
      forms.showProblem(form, error.problem);
    }).then(() => { $("duty-toggle").disabled = false; });
  });
}

function initContribute(onChange) {
  const form = $("contribute-form");
  if (!form) { return Promise.resolve(); }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    forms.clearErrors(form);
    const body = {
      areas: checkedValues($("contribute-areas")), area_tag: $("contribute-tag").value.trim(),
      kinds: checkedValues($("contribute-kinds"))
    };
    $("contribute-save").disabled = true;
    opApi("contribute/", { method: "POST", body }).then(() => {
      $("contribute-areas").querySelectorAll("input").forEach((input) => { input.checked = false; });
      $("contribute-tag").value = "";
      forms.setStatus(form, S.brought_in);
      onChange();
    }).catch((error) => forms.showProblem(form, error.problem))
      .then(() => { $("contribute-save").disabled = false; });
  });
  return loadOwnAreas().then((pairs) => fillChecks($("contribute-areas"), pairs, "areas", S.no_own_areas))
    .catch((error) => forms.showProblem(form, error.problem))
    .then(() => { form.dataset.ready = "true"; });
}

/* The participants under the operation's name, drawn again from an operation the API returned. */
function showParticipants(operation) {
  const list = document.querySelector("[data-testid=participants]");
  list.replaceChildren(...operation.participants.map((p) => el("li", { dataset: { tenant: p.tenant.slug, state: p.state } }, [
    el("strong", { text: p.tenant.name }), p.role ? " " : null,
    p.role ? el("span", { className: "muted-inline", text: p.role }) : null, " ",
    el("span", { className: `badge participant-${p.state}`, text: cfg.participantStates[p.state] || p.state })
  ])));
}

function initInvite() {
  const form = $("invite-form");
  if (!form) { return; }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    forms.clearErrors(form);
    const body = { tenant: $("invite-tenant").value.trim(), role: $("invite-role").value.trim() };
    $("invite-save").disabled = true;
    opApi("invite/", { method: "POST", body }).then((operation) => {
      form.reset();
      showParticipants(operation);
      forms.setStatus(form, S.invited);
    }).catch((error) => forms.showProblem(form, error.problem))
      .then(() => { $("invite-save").disabled = false; });
  });
}

/* Closing (the lead) or leaving (any other participant): two clicks, then the page shows what is left. */
function initEnd(formId, buttonId, step, confirmText, after) {
  const form = $(formId);
  if (!form) { return; }
  const button = $(buttonId);
  twoClicks(button, confirmText, () => {
    forms.clearErrors(form);
    button.disabled = true;
    opApi(`${step}/`, { method: "POST", body: {} }).then(after).catch((error) => {
      button.disabled = false;
      forms.showProblem(form, error.problem);
    });
  });
}

/* Wire the forms; returns a promise of their data (the own areas) being loaded. */
export function initManage({ onChange }) {
  initDuty();
  initInvite();
  initEnd("close-form", "close-operation", "close", S.confirm_close, () => window.location.reload());
  initEnd("leave-form", "leave-operation", "leave", S.confirm_leave, () => window.location.assign(cfg.listUrl));
  return initContribute(onChange);
}
