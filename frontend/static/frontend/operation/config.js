/* The operation pages' configuration (json_script "operation-config", built by frontend/operation_views.py):
   the tenant API root, the operation, the role's rights, the translated strings and the tenant's clock;
   and the helpers every module of these pages uses (csm-forms.js, a classic script loaded before, as
   window.Csm). */
export const cfg = JSON.parse(document.getElementById("operation-config").textContent);
export const S = cfg.strings;
export const forms = window.Csm;
export const { el } = forms;
export const $ = (id) => document.getElementById(id);

/* A request to the tenant API; rejects with an Error carrying the problem document (csm-forms.js). */
export function api(path, options = {}) {
  return forms.request(cfg.api + path, { ...options, networkMessage: S.network_error });
}
/* A request to this operation's part of the API: operations/<id>/<path>. */
export const opApi = (path, options) => api(`operations/${cfg.operation}/${path}`, options);

export const timeFmt = new Intl.DateTimeFormat(cfg.language, {
  timeZone: cfg.timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
});
export const shortFmt = new Intl.DateTimeFormat(cfg.language, {
  timeZone: cfg.timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23"
});
export const levelLabel = (level) => (level ? S[level] || level : S.no_data);

let ownAreas = null;
/* The tenant's own areas as [slug, name] pairs, fetched once per page view. */
export function loadOwnAreas() {
  ownAreas = ownAreas || api("areas/?page_size=1000").then((data) => forms.results(data).map((a) => [a.slug, a.name]));
  return ownAreas;
}

/* Checkboxes named `name`, one per [value, text] pair, in `container`. */
export function fillChecks(container, pairs, name, empty) {
  container.replaceChildren(...pairs.map(([value, text]) => el("label", { className: "check" }, [
    el("input", { type: "checkbox", name, value }), ` ${text}`
  ])));
  if (!pairs.length) { container.replaceChildren(el("span", { className: "muted small", text: empty })); }
}

export const checkedValues = (container) =>
  [...container.querySelectorAll("input[type=checkbox]:checked")].map((input) => input.value);

/* A button that asks for a second click before it does something that cannot be undone (as on the
   settings pages: no confirm()). */
export function twoClicks(button, confirmText, action) {
  const original = button.textContent;
  button.addEventListener("click", () => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = confirmText;
      return;
    }
    button.dataset.armed = "false";
    button.textContent = original;
    action();
  });
}

/* A Date as the value of a datetime-local input on the tenant's clock (what isoFromZoned reads back). */
export function zonedValue(date) {
  const parts = {};
  new Intl.DateTimeFormat("en-GB", {
    timeZone: cfg.timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit"
  }).formatToParts(date).forEach((p) => { parts[p.type] = p.value; });
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}
