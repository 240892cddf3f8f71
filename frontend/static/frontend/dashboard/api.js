/* Reads and small writes against the tenant API with the session cookie (and the CSRF token for writes).
   Writes that show field errors in a form go through forms.request (csm-forms.js) instead. */
import { cfg } from "./config.js";

const csrf = document.getElementById("csrf-token").value;

export function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrf;
    headers["Content-Type"] = "application/json";
  }
  return fetch(cfg.api + path, { method, credentials: "same-origin", headers, body }).then((response) => {
    if (!response.ok) { throw new Error(`${path}: HTTP ${response.status}`); }
    return response.json();
  });
}
