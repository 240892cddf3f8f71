/* Crowd Safety Manager: small helpers shared by the dashboard and the settings pages. Requests go to the
   tenant API with the session cookie and the CSRF token; an API error (an RFC 7807 problem document with
   `detail` and per-field or per-row `errors`) is shown next to the form that caused it. No inline script:
   pages pass their data through json_script and data- attributes. */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.getElementById("csrf-token");
    return input ? input.value : "";
  }

  /* Create an element: el("p", {className: "x", text: "..."}, [children]). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) { return; }
      if (key === "text") { node.textContent = value; }
      else if (key === "className") { node.className = value; }
      else if (key === "dataset") { Object.assign(node.dataset, value); }
      else if (key === "on") { Object.keys(value).forEach(function (ev) { node.addEventListener(ev, value[ev]); }); }
      else if (key in node && typeof value !== "string") { node[key] = value; }
      else { node.setAttribute(key, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) { return; }
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  /* fetch() against the API. Resolves with the parsed body (null for 204); rejects with an Error whose
     `problem` is the problem document (or a stand-in when the server could not be reached). */
  function request(url, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    var method = options.method || "GET";
    if (method !== "GET") {
      headers["X-CSRFToken"] = csrfToken();
      headers["Content-Type"] = options.contentType || "application/json";
    }
    var body = options.body;
    if (body !== undefined && typeof body !== "string") { body = JSON.stringify(body); }
    return fetch(url, { method: method, credentials: "same-origin", headers: headers, body: body })
      .catch(function () {
        var error = new Error("network");
        error.problem = { status: 0, detail: options.networkMessage || "The server could not be reached." };
        throw error;
      })
      .then(function (response) {
        if (response.status === 204) { return null; }
        return response.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          if (!response.ok) {
            var error = new Error("HTTP " + response.status);
            error.problem = data && typeof data === "object" ? data
              : { status: response.status, detail: "HTTP " + response.status };
            error.problem.status = error.problem.status || response.status;
            throw error;
          }
          return data;
        });
      });
  }

  function results(data) { return data && data.results ? data.results : (data || []); }

  function messagesOf(value) {
    if (value === null || value === undefined) { return []; }
    if (typeof value === "string") { return [value]; }
    if (Array.isArray(value)) {
      return value.reduce(function (acc, item) { return acc.concat(messagesOf(item)); }, []);
    }
    if (typeof value === "object") {
      return Object.keys(value).reduce(function (acc, key) {
        return acc.concat(messagesOf(value[key]).map(function (m) { return key + ": " + m; }));
      }, []);
    }
    return [String(value)];
  }

  function clearErrors(form, scope) {
    scope = scope || form;
    scope.querySelectorAll(".field-error").forEach(function (node) { node.remove(); });
    scope.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    var box = form.querySelector(".form-errors");
    if (box) { box.replaceChildren(); box.hidden = true; }
    var status = form.querySelector(".form-status");
    if (status) { status.textContent = ""; }
  }

  /* Show a problem document on a form: `detail` at the top, each field's messages after its input (an
     element with name=<field> or data-error-for=<field>, looked up in `scope`, by default the form), the
     rest listed under the detail. With a scope (a table row), the detail is left out when every message
     found its field: the row is too narrow for both. */
  function showProblem(form, problem, scope) {
    var compact = !!scope;
    scope = scope || form;
    clearErrors(form, scope);
    var box = form.querySelector(".form-errors");
    var rest = [];
    var errors = problem && problem.errors;
    if (errors && !Array.isArray(errors) && typeof errors === "object") {
      Object.keys(errors).forEach(function (field) {
        var target = scope.querySelector('[data-error-for="' + field + '"]') || scope.querySelector('[name="' + field + '"]');
        var messages = messagesOf(errors[field]);
        if (target && field !== "non_field_errors") {
          var anchor = target.closest(".field") || target;
          target.setAttribute("aria-invalid", "true");
          anchor.append(el("span", { className: "field-error error", role: "alert", text: messages.join("\n") }));
        } else {
          rest = rest.concat(messages.map(function (m) { return field === "non_field_errors" ? m : field + ": " + m; }));
        }
      });
    } else if (Array.isArray(errors)) {
      rest = errors.map(function (row) {
        if (row && typeof row === "object" && "errors" in row) {
          var label = row.feature !== null && row.feature !== undefined ? "#" + row.feature : "";
          if (row.slug) { label += " (" + row.slug + ")"; }
          if (row.row !== undefined) { label = "#" + row.row; }
          return (label ? label + ": " : "") + messagesOf(row.errors).join("; ");
        }
        return messagesOf(row).join("; ");
      });
    }
    if (!box || (compact && !rest.length && errors)) { return; }
    box.hidden = false;
    box.append(el("p", { className: "error", text: (problem && problem.detail) || "Error" }));
    if (rest.length) {
      box.append(el("ul", { className: "error" }, rest.map(function (m) { return el("li", { text: m }); })));
    }
  }

  function setStatus(form, text) {
    var status = form.querySelector(".form-status");
    if (status) { status.textContent = text; }
  }

  /* The value of a datetime-local input as an ISO 8601 instant (with zone), or null. */
  function isoFromLocal(value) {
    if (!value) { return null; }
    var date = new Date(value);
    return isNaN(date.getTime()) ? null : date.toISOString();
  }

  /* Minutes a time zone is ahead of UTC at an instant (ms), e.g. 120 for Europe/Amsterdam in summer. */
  function zoneOffsetMinutes(timeZone, ms) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = Number(p.value); });
    var wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
  }

  /* The value of a datetime-local input read as a wall-clock time in `timeZone` (the tenant's, an IANA
     name), as ISO 8601 with that zone's offset ("2027-04-27T10:00:00+02:00"), or null. The server then
     stores the instant the organisation's clock meant, whatever the browser's own zone. A time in the hour a
     clock change skips or repeats takes one of the two offsets of that night. */
  function isoFromZoned(value, timeZone) {
    var match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
    if (!match) { return null; }
    var n = match.slice(1).map(function (v) { return Number(v || 0); });
    var wall = Date.UTC(n[0], n[1] - 1, n[2], n[3], n[4], n[5]);
    var offset = zoneOffsetMinutes(timeZone, wall);
    offset = zoneOffsetMinutes(timeZone, wall - offset * 60000);
    var pad = function (v) { return String(v).padStart(2, "0"); };
    var sign = offset < 0 ? "-" : "+";
    var abs = Math.abs(offset);
    return match[1] + "-" + match[2] + "-" + match[3] + "T" + match[4] + ":" + match[5] + ":" + pad(n[5]) +
      sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
  }

  /* A Date as the value of a datetime-local input in the browser's time. */
  function localValue(date) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  window.Csm = {
    el: el, request: request, results: results, showProblem: showProblem, clearErrors: clearErrors,
    setStatus: setStatus, isoFromLocal: isoFromLocal, isoFromZoned: isoFromZoned, localValue: localValue,
    messagesOf: messagesOf
  };
})();
