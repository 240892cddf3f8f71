/* The list of joint operations (/t/<tenant>/operations/): answering invitations and, for admins, the form
   that starts an operation led by this organisation (then its page opens). */
import { $, api, cfg, forms } from "./config.js";
import { bindRespondForms } from "./steps.js";

function slugify(text) {  // as Django's slugify, which the API's slug field accepts
  return text.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase().replace(/[^\w\s-]/g, "")
    .replace(/[-\s]+/g, "-").replace(/^[-_]+|[-_]+$/g, "").slice(0, 80);
}

function initCreateForm(form) {
  const slug = $("op-slug");
  $("op-name").addEventListener("input", () => {
    if (slug.dataset.touched !== "true") { slug.value = slugify($("op-name").value); }
  });
  slug.addEventListener("input", () => { slug.dataset.touched = "true"; });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    forms.clearErrors(form);
    const body = {
      slug: slug.value.trim(), name: $("op-name").value.trim(), description: $("op-description").value,
      starts_at: forms.isoFromZoned($("op-starts").value, cfg.timeZone),
      ends_at: forms.isoFromZoned($("op-ends").value, cfg.timeZone),
      public_page: $("op-public").checked,
      invite: $("op-invite").value.split(/[\s,;]+/).filter(Boolean)
    };
    $("op-save").disabled = true;
    api("operations/", { method: "POST", body }).then((operation) => {
      window.location.assign(`${cfg.listUrl}${operation.id}/`);
    }).catch((error) => {
      $("op-save").disabled = false;
      forms.showProblem(form, error.problem);
    });
  });
}

bindRespondForms();
if ($("operation-form")) { initCreateForm($("operation-form")); }
$("operations").dataset.ready = "true";
