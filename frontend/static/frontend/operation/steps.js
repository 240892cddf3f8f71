/* Answering an invitation (join or decline), from the list of operations and from the operation's page:
   a form.respond-form[data-operation] with buttons[data-step]. Joining opens the operation's page; after
   declining the operation is gone, so the list is shown. */
import { api, cfg, forms } from "./config.js";

export function bindRespondForms() {
  document.querySelectorAll("form.respond-form").forEach((form) => {
    const id = form.dataset.operation;
    const buttons = [...form.querySelectorAll("button[data-step]")];
    buttons.forEach((button) => button.addEventListener("click", () => {
      const step = button.dataset.step;
      forms.clearErrors(form);
      buttons.forEach((b) => { b.disabled = true; });
      api(`operations/${id}/${step}/`, { method: "POST", body: {} }).then(() => {
        window.location.assign(step === "join" ? `${cfg.listUrl}${id}/` : cfg.listUrl);
      }).catch((error) => {
        buttons.forEach((b) => { b.disabled = false; });
        forms.showProblem(form, error.problem);
      });
    }));
  });
}
