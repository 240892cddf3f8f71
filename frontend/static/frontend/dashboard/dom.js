/* DOM helpers: the page's elements by id and the form helpers of csm-forms.js (a classic script that the
   template loads before this module, shared with the settings pages as window.Csm). */
export const $ = (id) => document.getElementById(id);
export const forms = window.Csm;
export const { el } = forms;

/* Fill a <select> with [value, text] pairs. */
export function fillSelect(select, options, selected) {
  select.replaceChildren(...options.map(([value, text]) => el("option", { value, text, selected: value === selected })));
}
