/* Crowd Safety Manager: the onboarding pages for tenant admins (/t/<tenant>/settings/...). Each page is a
   small form over the tenant API; the page's name is in #settings[data-page] and its data in the
   settings-config JSON. API errors (problem documents) are shown next to the form. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("settings-config").textContent);
  var S = cfg.strings;
  var C = window.Csm;
  var el = C.el;

  function $(id) { return document.getElementById(id); }
  function api(path, options) {
    options = options || {};
    options.networkMessage = S.network_error;
    return C.request(cfg.api + path, options);
  }
  function fail(form) { return function (error) { C.showProblem(form, error.problem); }; }
  var dateFmt = new Intl.DateTimeFormat(cfg.language, {
    timeZone: cfg.timeZone, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23"
  });
  function fmtTime(iso) { return iso ? dateFmt.format(new Date(iso)) : "—"; }
  function label(pairs, value) {
    var found = pairs.filter(function (p) { return p[0] === value; })[0];
    return found ? found[1] : value;
  }
  function options(select, pairs, selected) {
    select.replaceChildren.apply(select, pairs.map(function (p) {
      return el("option", { value: p[0], text: p[1], selected: p[0] === selected });
    }));
  }
  function fillTable(table, rows) {
    var body = table.tBodies[0];
    if (!rows.length) {
      var cols = table.tHead.rows[0].cells.length;
      body.replaceChildren(el("tr", {}, [el("td", { colSpan: cols, className: "muted", text: S.no_rows })]));
      return;
    }
    body.replaceChildren.apply(body, rows);
  }
  function cell(content, attrs) {
    return el("td", attrs || {}, Array.isArray(content) ? content : [content]);
  }
  function slugify(text) {  // as Django's slugify, which the server uses to derive slugs from names
    return text.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase().replace(/[^\w\s-]/g, "")
      .replace(/[-\s]+/g, "-").replace(/^[-_]+|[-_]+$/g, "");
  }
  function humanize(name) {
    var text = name.replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  function numberOrNull(value) { return value === "" ? null : Number(value); }
  function checkedValues(container) {
    return Array.prototype.slice.call(container.querySelectorAll("input[type=checkbox]:checked"))
      .map(function (input) { return input.value; });
  }
  function checkboxes(container, pairs, name, checked) {
    container.replaceChildren.apply(container, pairs.map(function (p) {
      return el("label", { className: "check" }, [
        el("input", { type: "checkbox", name: name, value: p[0], checked: (checked || []).indexOf(p[0]) >= 0 }), " " + p[1]
      ]);
    }));
    if (!pairs.length) { container.replaceChildren(el("span", { className: "muted small", text: S.none })); }
  }
  function loadError(table) {
    return function () { fillTable(table, [el("tr", {}, [cell(S.load_error, { className: "error" })])]); };
  }

  /* --- areas: import GeoJSON, capacity and usable surface, draw a new area --------------------------- */
  function areasPage() {
    var form = $("import-form");
    var fileText = null;

    function readFile() {
      var file = $("import-file").files[0];
      if (!file) { return Promise.reject({ problem: { detail: S.choose_file } }); }
      return file.text().then(function (text) {
        try { JSON.parse(text); } catch (e) { throw { problem: { detail: S.not_json + " " + e.message } }; }
        fileText = text;
        return text;
      });
    }

    function slugOf(feature) {
      var props = (feature && feature.properties) || {};
      if (props.slug) { return String(props.slug); }
      if (feature && typeof feature.id === "string" && feature.id) { return feature.id; }
      return slugify(String(props.name || "")).slice(0, 80);
    }

    function showResult(result, dryRun) {
      var features = JSON.parse(fileText).features || [];
      var rows = features.map(function (feature, index) {
        var props = (feature && feature.properties) || {};
        var slug = slugOf(feature);
        var created = result.created.indexOf(slug) >= 0;
        var text = dryRun ? (created ? S.will_create : S.will_update) : (created ? S.created : S.updated);
        var ignored = result.ignored_properties[slug];
        if (ignored && ignored.length) { text += " · " + S.ignored + ": " + ignored.join(", "); }
        return el("tr", { className: created ? "row-created" : "row-updated" }, [
          cell(String(index)), cell(slug), cell(props.name || ""), cell(text)
        ]);
      });
      $("import-result").hidden = false;
      fillTable($("import-result"), rows);
    }

    function showRejected(problem) {
      var features = [];
      try { features = JSON.parse(fileText).features || []; } catch (e) { features = []; }
      var rows = (Array.isArray(problem.errors) ? problem.errors : []).map(function (row) {
        var props = row.feature !== null && features[row.feature] ? features[row.feature].properties || {} : {};
        return el("tr", { className: "row-rejected" }, [
          cell(row.feature === null ? "—" : String(row.feature)), cell(row.slug || ""), cell(props.name || ""),
          cell(S.rejected + ": " + C.messagesOf(row.errors).join("; "), { className: "error" })
        ]);
      });
      $("import-result").hidden = !rows.length;
      if (rows.length) { fillTable($("import-result"), rows); }
    }

    function send(dryRun) {
      C.clearErrors(form);
      $("import-run").disabled = true;
      return readFile().then(function (text) {
        return api("areas/import/" + (dryRun ? "?dry_run=true" : ""), {
          method: "POST", body: text, contentType: "application/geo+json"
        });
      }).then(function (result) {
        showResult(result, dryRun);
        C.setStatus(form, dryRun ? S.preview_ok : S.imported);
        $("import-run").disabled = !dryRun;
        if (!dryRun) { loadAreas(); }
      }).catch(function (error) {
        C.showProblem(form, error.problem);
        if (fileText && error.problem) { showRejected(error.problem); }
      });
    }

    $("import-file").addEventListener("change", function () {
      fileText = null;
      $("import-run").disabled = true;
      $("import-result").hidden = true;
      C.clearErrors(form);
    });
    $("import-preview").addEventListener("click", function () { send(true); });
    $("import-run").addEventListener("click", function () { send(false); });

    function areaRow(area) {
      var usable = el("input", {
        type: "number", name: "usable_surface_m2", min: "1", step: "any", value: area.usable_surface_m2 === null ? "" : String(area.usable_surface_m2),
        "aria-label": area.name + ": usable surface"
      });
      var capacity = el("input", {
        type: "number", name: "capacity", min: "1", step: "1", value: area.capacity === null ? "" : String(area.capacity),
        "aria-label": area.name + ": capacity"
      });
      var rowForm = el("form", { className: "row-form", novalidate: true, id: "area-form-" + area.id }, [
        el("button", { type: "submit", text: S.save }),
        el("div", { className: "form-errors", hidden: true, role: "alert" }),
        el("span", { className: "form-status", role: "status" })
      ]);
      usable.setAttribute("form", rowForm.id);
      capacity.setAttribute("form", rowForm.id);
      rowForm.addEventListener("submit", function (event) {
        event.preventDefault();
        C.clearErrors(rowForm, row);
        api("areas/" + area.id + "/", {
          method: "PATCH",
          body: { usable_surface_m2: numberOrNull(usable.value), capacity: numberOrNull(capacity.value) }
        }).then(function () { C.setStatus(rowForm, S.saved); }).catch(function (error) {
          C.showProblem(rowForm, error.problem, row);
        });
      });
      var row = el("tr", { dataset: { slug: area.slug } }, [
        el("th", { scope: "row" }, [area.name, el("span", { className: "muted small", text: area.slug })]),
        cell(area.kind), cell(Math.round(area.surface_m2).toLocaleString(cfg.language)),
        cell(el("span", { className: "field" }, [usable])), cell(el("span", { className: "field" }, [capacity])), cell(rowForm)
      ]);
      return row;
    }

    var drawn = { areas: null };
    function loadAreas() {
      return api("areas/?page_size=1000").then(function (data) {
        var areas = C.results(data);
        fillTable($("area-table"), areas.map(areaRow));
        drawn.areas = areas;
        if (drawn.showAreas) { drawn.showAreas(areas); }
      }).catch(loadError($("area-table")));
    }
    loadAreas();
    drawPage(drawn, loadAreas);
    buildingsPart();
  }

  /* Building footprints for the 3D map: one GeoJSON file replaces the tenant's buildings. */
  function buildingsPart() {
    var form = $("buildings-form");
    function showCurrent() {
      return api("buildings.geojson").then(function (layer) {
        var count = layer.features.length;
        $("buildings-current").textContent = count
          ? S.buildings_count + " " + count.toLocaleString(cfg.language) + ", " + S.uploaded + " " + fmtTime(layer.uploaded_at) + "."
          : S.buildings_none;
      }).catch(function () { $("buildings-current").textContent = S.load_error; });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      C.setStatus(form, "");
      var file = $("buildings-file").files[0];
      if (!file) { C.showProblem(form, { detail: S.choose_file }); return; }
      $("buildings-upload").disabled = true;
      file.text().then(function (text) {
        try { JSON.parse(text); } catch (e) { throw { problem: { detail: S.not_json + " " + e.message } }; }
        return api("buildings.geojson", { method: "PUT", body: text, contentType: "application/geo+json" });
      }).then(function (result) {
        var keys = Object.keys(result.height_keys).map(function (key) { return key + " (" + result.height_keys[key] + ")"; });
        C.setStatus(form, S.buildings_saved + " " + result.feature_count.toLocaleString(cfg.language) +
          (keys.length ? "; " + S.heights_from + " " + keys.join(", ") : "") + ".");
        return showCurrent();
      }).catch(function (error) { C.showProblem(form, error.problem); }).then(function () {
        $("buildings-upload").disabled = false;
      });
    });
    showCurrent();
  }

  /* Draw an area: click to add corners on a MapLibre map, then save it as a new permanent area. */
  function drawPage(drawn, reload) {
    var form = $("draw-form");
    var corners = [];
    $("draw-hint").textContent = S.draw_hint;
    var map = null;

    function shape() {
      if (corners.length >= 3) {
        return { type: "Polygon", coordinates: [corners.concat([corners[0]])] };
      }
      return null;
    }
    function update() {
      if (map && map.getSource("draft")) {
        var features = corners.map(function (c) { return { type: "Feature", geometry: { type: "Point", coordinates: c }, properties: {} }; });
        var polygon = shape();
        if (polygon) { features.push({ type: "Feature", geometry: polygon, properties: {} }); }
        else if (corners.length === 2) {
          features.push({ type: "Feature", geometry: { type: "LineString", coordinates: corners }, properties: {} });
        }
        map.getSource("draft").setData({ type: "FeatureCollection", features: features });
      }
      $("draw-hint").textContent = S.draw_hint + " (" + corners.length + " " + S.points + ")";
    }
    function showAreas(areas) {
      if (!map || !map.getSource("existing")) { return; }
      map.getSource("existing").setData({
        type: "FeatureCollection",
        features: areas.map(function (a) { return { type: "Feature", geometry: a.geometry, properties: { name: a.name } }; })
      });
      if (areas.length && !drawn.fitted) {
        var b = areas.reduce(function (acc, a) {
          return [Math.min(acc[0], a.bbox[0]), Math.min(acc[1], a.bbox[1]), Math.max(acc[2], a.bbox[2]), Math.max(acc[3], a.bbox[3])];
        }, [180, 90, -180, -90]);
        map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 30, duration: 0, maxZoom: 17 });
        drawn.fitted = true;
      }
    }
    drawn.showAreas = showAreas;

    var script = $("maplibre-script");
    if (window.maplibregl) {
      maplibregl.setWorkerUrl(script.dataset.workerUrl);
      var style = { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#e8ecf0" } }] };
      if (cfg.tileUrl) {
        style.sources.base = { type: "raster", tiles: [cfg.tileUrl], tileSize: 256 };
        style.layers.push({ id: "base", type: "raster", source: "base" });
      }
      try {
        map = new maplibregl.Map({ container: "draw-map", style: style, center: [5.3, 52.1], zoom: 7, attributionControl: false });
      } catch (error) {
        $("draw-map").textContent = error.message;
        map = null;
      }
    }
    if (map) {
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
      map.on("load", function () {
        map.addSource("existing", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
        map.addSource("draft", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
        map.addLayer({ id: "existing-fill", type: "fill", source: "existing", paint: { "fill-color": "#0b5cad", "fill-opacity": 0.12 } });
        map.addLayer({ id: "existing-line", type: "line", source: "existing", paint: { "line-color": "#0b5cad", "line-width": 1 } });
        map.addLayer({ id: "draft-fill", type: "fill", source: "draft", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#ef6c00", "fill-opacity": 0.35 } });
        map.addLayer({ id: "draft-line", type: "line", source: "draft", filter: ["!=", ["geometry-type"], "Point"], paint: { "line-color": "#ef6c00", "line-width": 2 } });
        map.addLayer({ id: "draft-points", type: "circle", source: "draft", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 5, "circle-color": "#ef6c00", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
        if (drawn.areas) { showAreas(drawn.areas); }
        $("draw-map").dataset.ready = "true";
      });
      map.on("click", function (e) {
        corners.push([Number(e.lngLat.lng.toFixed(7)), Number(e.lngLat.lat.toFixed(7))]);
        update();
      });
    }
    $("draw-undo").addEventListener("click", function () { corners.pop(); update(); });
    $("draw-clear").addEventListener("click", function () { corners = []; update(); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      var body = { name: $("draw-name").value, geometry: shape() || { type: "Polygon", coordinates: [] } };
      if ($("draw-capacity").value) { body.capacity = Number($("draw-capacity").value); }
      api("areas/", { method: "POST", body: body }).then(function (area) {
        C.setStatus(form, S.saved + " " + area.name);
        corners = [];
        update();
        $("draw-name").value = "";
        $("draw-capacity").value = "";
        reload();
      }).catch(fail(form));
    });
    update();
  }

  /* --- crowd-level bands -------------------------------------------------------------------------- */
  function crowdLevelsPage() {
    var form = $("bands-form");
    var keys = ["busy", "very_busy", "crowded", "critical"];
    var data = null;
    function inputs(container, prefix, own, defaults) {
      container.replaceChildren.apply(container, keys.map(function (key) {
        var id = prefix + "-" + key;
        return el("div", { className: "field" }, [
          el("label", { "for": id, text: label(cfg.levels, key) }),
          el("input", {
            type: "number", id: id, name: prefix + "_" + key, step: "any", min: "0",
            value: own ? String(own[key]) : "", placeholder: String(defaults[key])
          })
        ]);
      }));
    }
    function toggle(prefix) {
      var off = $(prefix + "-default").checked;
      $(prefix + "-bands").querySelectorAll("input").forEach(function (input) { input.disabled = off; });
    }
    function bands(prefix) {
      if ($(prefix + "-default").checked) { return null; }
      var out = {};
      keys.forEach(function (key) {
        var value = $(prefix + "-" + key).value;
        out[key] = value === "" ? data["default_" + prefix + "_bands"][key] : Number(value);
      });
      return out;
    }
    function show(settings) {
      data = settings;
      inputs($("density-bands"), "density", settings.density_bands, settings.default_density_bands);
      inputs($("capacity-bands"), "capacity", settings.capacity_bands, settings.default_capacity_bands);
      $("density-default").checked = settings.density_bands === null;
      $("capacity-default").checked = settings.capacity_bands === null;
      toggle("density");
      toggle("capacity");
    }
    ["density", "capacity"].forEach(function (prefix) {
      $(prefix + "-default").addEventListener("change", function () { toggle(prefix); });
    });
    api("crowd-levels/").then(show).catch(fail(form));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      api("crowd-levels/", { method: "PUT", body: { density_bands: bands("density"), capacity_bands: bands("capacity") } })
        .then(function (settings) { show(settings); C.setStatus(form, S.saved); })
        .catch(fail(form));
    });
  }

  /* --- events and their organisers ---------------------------------------------------------------- */
  function eventsPage() {
    var form = $("event-form");
    var organisers = [];
    function eventRow(event) {
      var box = el("div", { className: "checks" });
      checkboxes(box, organisers, "organisers", event.organisers);
      var rowForm = el("form", { className: "row-form", novalidate: true }, [
        box, el("button", { type: "submit", text: S.save, className: "small-button" }),
        el("div", { className: "form-errors", hidden: true, role: "alert" }),
        el("span", { className: "form-status", role: "status" })
      ]);
      if (!organisers.length) { rowForm.querySelector("button").hidden = true; }
      rowForm.addEventListener("submit", function (e) {
        e.preventDefault();
        C.clearErrors(rowForm);
        api("events/" + event.id + "/", { method: "PATCH", body: { organisers: checkedValues(box) } })
          .then(function () { C.setStatus(rowForm, S.saved); }).catch(fail(rowForm));
      });
      return el("tr", {}, [
        el("th", { scope: "row" }, [event.name, el("span", { className: "muted small", text: event.slug })]),
        cell(fmtTime(event.start)), cell(fmtTime(event.end)), cell(event.zones.join(", ") || "—"), cell(rowForm)
      ]);
    }
    function load() {
      return api("events/?page_size=1000").then(function (data) {
        fillTable($("event-table"), C.results(data).map(eventRow));
      }).catch(loadError($("event-table")));
    }
    api("members/?page_size=1000").then(function (data) {
      organisers = C.results(data).filter(function (m) { return m.role === "organiser" && m.is_active; })
        .map(function (m) { return [m.user.username, m.user.username + (m.user.email ? " (" + m.user.email + ")" : "")]; });
      checkboxes($("event-organisers"), organisers, "organisers", []);
    }).catch(function () { checkboxes($("event-organisers"), [], "organisers", []); }).then(load);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      var body = {
        name: $("event-name").value, description: $("event-description").value,
        start: C.isoFromLocal($("event-start").value), end: C.isoFromLocal($("event-end").value),
        organiser: $("event-organiser").value, organisers: checkedValues($("event-organisers"))
      };
      if ($("event-slug").value) { body.slug = $("event-slug").value; }
      if ($("event-attendance").value) { body.expected_attendance = Number($("event-attendance").value); }
      api("events/", { method: "POST", body: body }).then(function (created) {
        form.reset();
        C.setStatus(form, S.saved + " " + created.name);
        return load();
      }).catch(fail(form));
    });
  }

  /* --- sources: a form generated from the connector's JSON Schema ---------------------------------- */
  function baseType(schema) {
    var type = schema.type;
    if (Array.isArray(type)) { return type.filter(function (t) { return t !== "null"; })[0] || "string"; }
    if (!type && schema.enum) { return "string"; }
    return type || "string";
  }

  /* One input for one property; returns {node, read} where read() gives the value or undefined (omit). */
  function schemaField(prefix, name, schema, required, secret) {
    var id = prefix + "-" + name;
    var type = baseType(schema);
    var nullable = Array.isArray(schema.type) && schema.type.indexOf("null") >= 0;
    var hasDefault = schema.default !== undefined && schema.default !== null;
    var input, read;
    var help = [];
    if (schema.description) { help.push(schema.description); }
    if (schema.enum) {
      var choices = schema.enum.map(function (v) { return [String(v), String(v)]; });
      if (!required || nullable) { choices.unshift(["", "—"]); }
      input = el("select", { id: id, name: name });
      options(input, choices, hasDefault ? String(schema.default) : "");
      read = function () {
        if (input.value === "") { return undefined; }
        return type === "integer" || type === "number" ? Number(input.value) : input.value;
      };
    } else if (type === "boolean") {
      input = el("input", { type: "checkbox", id: id, name: name, checked: schema.default === true });
      read = function () { return input.checked; };
    } else if (type === "integer" || type === "number") {
      input = el("input", {
        type: "number", id: id, name: name, step: type === "integer" ? "1" : "any",
        min: schema.minimum !== undefined ? String(schema.minimum) : null,
        max: schema.maximum !== undefined ? String(schema.maximum) : null,
        value: hasDefault ? String(schema.default) : ""
      });
      read = function () { return input.value === "" ? undefined : Number(input.value); };
    } else if (type === "array" && schema.items && baseType(schema.items) === "string" && !schema.items.enum) {
      input = el("textarea", { id: id, name: name, rows: 3 });
      input.value = hasDefault ? schema.default.join("\n") : "";
      if (schema.examples && schema.examples[0]) { input.placeholder = [].concat(schema.examples[0]).join("\n"); }
      help.push(S.one_per_line);
      read = function () {
        var items = input.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
        return items.length || required ? items : undefined;
      };
    } else if (type === "string") {
      input = el("input", {
        type: secret ? "password" : "text", id: id, name: name, autocomplete: secret ? "new-password" : "off",
        maxLength: schema.maxLength || null, value: hasDefault ? String(schema.default) : ""
      });
      if (schema.examples && schema.examples.length) { input.placeholder = String(schema.examples[0]); }
      read = function () { return input.value === "" && !hasDefault ? undefined : input.value; };
    } else {
      // Objects and arrays of objects: edited as JSON, validated by the server against the schema.
      input = el("textarea", { id: id, name: name, rows: 3, className: "code" });
      input.value = hasDefault ? JSON.stringify(schema.default) : "";
      if (schema.examples && schema.examples.length) { input.placeholder = JSON.stringify(schema.examples[0]); }
      help.push(S.json_value);
      read = function () {
        if (input.value.trim() === "") { return undefined; }
        try { return JSON.parse(input.value); } catch (e) {
          var error = new Error("json");
          error.problem = { detail: (schema.title || name) + " " + S.invalid_json_field };
          throw error;
        }
      };
    }
    var title = schema.title || humanize(name);
    var labelNode = el("label", { "for": id }, [title, required ? el("span", { className: "req", text: " *", title: S.required }) : null]);
    var node;
    if (type === "boolean" && !schema.enum) {
      node = el("div", { className: "field" }, [el("label", { className: "check", "for": id }, [input, " " + title])]);
    } else {
      node = el("div", { className: "field" }, [labelNode, input]);
    }
    if (help.length) { node.append(el("p", { className: "muted small", text: help.join(" ") })); }
    return { node: node, read: read, name: name };
  }

  function schemaForm(container, prefix, schema, secret) {
    var props = (schema && schema.properties) || {};
    var required = (schema && schema.required) || [];
    var fields = Object.keys(props).map(function (name) {
      return schemaField(prefix, name, props[name], required.indexOf(name) >= 0, secret);
    });
    container.replaceChildren.apply(container, fields.map(function (f) { return f.node; }));
    if (!fields.length) { container.replaceChildren(el("p", { className: "muted small", text: S.no_fields })); }
    return function () {
      var out = {};
      fields.forEach(function (f) {
        var value = f.read();
        if (value !== undefined) { out[f.name] = value; }
      });
      return out;
    };
  }

  function sourcesPage() {
    var form = $("source-form");
    var connectors = [];
    var readConfig = function () { return {}; };
    var readSecrets = function () { return {}; };

    function chooseKind(kind) {
      var connector = connectors.filter(function (c) { return c.kind === kind; })[0];
      if (!connector) { return; }
      $("source-kind-help").textContent = connector.description + (connector.stores ? " " + connector.stores : "");
      $("source-poll").value = connector.push_only ? "" : String(connector.default_poll_interval || "");
      readConfig = schemaForm($("config-fields"), "config", connector.config_schema, false);
      var secretProps = (connector.secret_schema && connector.secret_schema.properties) || {};
      $("secrets-fieldset").hidden = !Object.keys(secretProps).length;
      readSecrets = schemaForm($("secret-fields"), "secret", connector.secret_schema, true);
      $("test-result").hidden = true;
      C.clearErrors(form);
    }

    function payload() {
      var body = {
        kind: $("source-kind").value, config: readConfig(), secrets: readSecrets(),
        areas: checkedValues($("source-areas"))
      };
      return body;
    }

    function showTest(result) {
      var box = $("test-result");
      box.hidden = false;
      if (!result.ok) {
        box.replaceChildren(el("p", { className: "error" }, [el("strong", { text: S.test_failed }), " " + result.error]));
        return;
      }
      var rows = result.readings.map(function (r) {
        return el("tr", {}, [cell(r.key), cell(r.metric), cell(fmtTime(r.time)), cell(String(r.value) + (r.unit ? " " + r.unit : "")), cell(r.area || "")]);
      });
      var table = el("table", { className: "compact" }, [
        el("thead", {}, [el("tr", {}, ["key", "metric", "time", "value", "area"].map(function (h) { return el("th", { scope: "col", text: h }); }))]),
        el("tbody", {}, rows)
      ]);
      var parts = [el("p", { className: "ok" }, [el("strong", { text: S.test_ok }), " " + result.total + " " + S.readings])];
      if (rows.length) { parts.push(el("div", { className: "table-wrap" }, [table])); }
      if (result.warnings && result.warnings.length) {
        parts.push(el("p", { text: S.warnings + ":" }));
        parts.push(el("ul", {}, result.warnings.slice(0, 10).map(function (w) { return el("li", { text: w }); })));
      }
      box.replaceChildren.apply(box, parts);
    }

    function sourceRow(source) {
      var health = source.health || {};
      return el("tr", {}, [
        el("th", { scope: "row" }, [source.name, el("span", { className: "muted small", text: source.slug })]),
        cell(label(connectors.map(function (c) { return [c.kind, c.label]; }), source.kind)),
        cell(source.areas.join(", ") || "—"),
        cell([el("span", { className: "badge status-" + (health.status || ""), text: health.status || "—" }),
          source.secrets_set.length ? el("span", { className: "muted small", text: S.secret_set + ": " + source.secrets_set.join(", ") }) : null])
      ]);
    }
    function load() {
      return api("sources/?page_size=1000").then(function (data) {
        fillTable($("source-table"), C.results(data).map(sourceRow));
      }).catch(loadError($("source-table")));
    }

    Promise.all([
      C.request(cfg.root + "connectors/"),
      api("areas/?page_size=1000").catch(function () { return []; })
    ]).then(function (results) {
      connectors = results[0];
      options($("source-kind"), connectors.map(function (c) { return [c.kind, c.label]; }), connectors[0] && connectors[0].kind);
      checkboxes($("source-areas"), C.results(results[1]).map(function (a) { return [a.slug, a.name]; }), "areas", []);
      chooseKind($("source-kind").value);
      $("source-form").dataset.ready = "true";
      return load();
    }).catch(fail(form));

    $("source-kind").addEventListener("change", function () { chooseKind($("source-kind").value); });
    $("source-test").addEventListener("click", function () {
      C.clearErrors(form);
      var body;
      try { body = payload(); } catch (error) { C.showProblem(form, error.problem); return; }
      $("source-test").disabled = true;
      api("sources/test/", { method: "POST", body: body }).then(showTest).catch(function (error) {
        $("test-result").hidden = true;
        C.showProblem(form, error.problem);
      }).then(function () { $("source-test").disabled = false; });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      var body;
      try { body = payload(); } catch (error) { C.showProblem(form, error.problem); return; }
      body.name = $("source-name").value;
      body.owner = $("source-owner").value;
      body.purpose = $("source-purpose").value;
      body.slug = $("source-slug").value || slugify(body.name).slice(0, 80);
      if ($("source-poll").value) { body.poll_interval = Number($("source-poll").value); }
      if (!Object.keys(body.secrets).length) { delete body.secrets; }
      api("sources/", { method: "POST", body: body }).then(function (source) {
        C.setStatus(form, S.saved + " " + source.name);
        $("source-name").value = "";
        $("source-slug").value = "";
        return load();
      }).catch(fail(form));
    });
  }

  /* --- members ------------------------------------------------------------------------------------ */
  function membersPage() {
    var form = $("invite-form");
    var mfaForm = $("mfa-form");
    C.request(cfg.api).then(function (tenant) { $("mfa-all").checked = tenant.mfa_required_for_all; })
      .catch(fail(mfaForm));
    mfaForm.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(mfaForm);
      C.request(cfg.api, { method: "PATCH", body: { mfa_required_for_all: $("mfa-all").checked } })
        .then(function (tenant) {
          $("mfa-all").checked = tenant.mfa_required_for_all;
          C.setStatus(mfaForm, S.saved);
        }).catch(fail(mfaForm));
    });
    options($("invite-role"), cfg.roles, "operator");
    function memberRow(m) {
      var role = el("select", { "aria-label": m.user.username + ": role" });
      options(role, cfg.roles, m.role);
      var status = $("members-status");
      role.addEventListener("change", function () {
        api("members/" + m.id + "/", { method: "PATCH", body: { role: role.value } }).then(function () {
          status.className = "form-status";
          status.textContent = m.user.username + ": " + S.saved;
        }).catch(function (error) {
          role.value = m.role;
          status.className = "form-status error";
          status.textContent = m.user.username + ": " + error.problem.detail + " " + C.messagesOf(error.problem.errors || []).join(" ");
        });
      });
      var remove = el("button", { type: "button", className: "small-button danger", text: S.remove });
      remove.addEventListener("click", function () {
        // Two clicks instead of confirm(): no blocking dialog, and a slip of the mouse removes nobody.
        if (remove.dataset.armed !== "true") {
          remove.dataset.armed = "true";
          remove.textContent = S.confirm_remove;
          return;
        }
        api("members/" + m.id + "/", { method: "DELETE" }).then(function () {
          status.className = "form-status";
          status.textContent = m.user.username + ": " + S.removed;
          load();
        }).catch(function (error) {
          status.className = "form-status error";
          status.textContent = m.user.username + ": " + error.problem.detail;
          remove.dataset.armed = "false";
          remove.textContent = S.remove;
        });
      });
      return el("tr", {}, [
        el("th", { scope: "row", text: m.user.username }), cell(m.user.email || "—"), cell(role),
        cell(m.is_active ? S.active : S.suspended), cell(m.user.username === cfg.username ? "" : remove)
      ]);
    }
    function load() {
      return api("members/?page_size=1000").then(function (data) {
        fillTable($("member-table"), C.results(data).map(memberRow));
      }).catch(loadError($("member-table")));
    }
    load();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      api("members/", { method: "POST", body: { email: $("invite-email").value, role: $("invite-role").value } })
        .then(function (result) {
          var text = S.invited + " " + result.user.username;
          if (result.set_password_url) { text += ". " + S.set_password_link + " " + result.set_password_url; }
          C.setStatus(form, text);
          $("invite-email").value = "";
          return load();
        }).catch(fail(form));
    });
  }

  /* --- alert rules -------------------------------------------------------------------------------- */
  function alertRulesPage() {
    var form = $("rule-form");
    options($("rule-kind"), cfg.alertKinds, "level_now");
    options($("rule-level"), cfg.levels.slice(1), "crowded");
    checkboxes($("rule-roles"), cfg.roles.filter(function (r) { return r[0] !== "integration"; }), "notify_roles", ["admin", "operator"]);
    function showFields() {
      var kind = $("rule-kind").value;
      form.querySelectorAll("[data-kinds]").forEach(function (node) {
        node.hidden = node.dataset.kinds.split(" ").indexOf(kind) < 0;
      });
    }
    $("rule-kind").addEventListener("change", showFields);
    showFields();
    function condition(rule) {
      var text = label(cfg.alertKinds, rule.kind);
      if (rule.level) { text += ": " + label(cfg.levels, rule.level); }
      if (rule.within_hours) { text += " (" + rule.within_hours + " h)"; }
      if (rule.minutes) { text += " (" + rule.minutes + " min)"; }
      if (rule.source) { text += " · " + rule.source; }
      return text;
    }
    function load() {
      return api("alert-rules/?page_size=1000").then(function (data) {
        fillTable($("rule-table"), C.results(data).map(function (rule) {
          return el("tr", {}, [
            el("th", { scope: "row", text: rule.name }), cell(condition(rule)), cell(rule.area || S.all_areas),
            cell((rule.notify_roles || []).map(function (r) { return label(cfg.roles, r); }).join(", ") || "—"),
            cell(rule.enabled ? S.enabled : S.disabled)
          ]);
        }));
      }).catch(loadError($("rule-table")));
    }
    Promise.all([
      api("areas/?page_size=1000").catch(function () { return []; }),
      api("sources/?page_size=1000").catch(function () { return []; })
    ]).then(function (results) {
      options($("rule-area"), [["", S.all_areas]].concat(C.results(results[0]).map(function (a) { return [a.slug, a.name]; })), "");
      options($("rule-source"), [["", S.any_source]].concat(C.results(results[1]).map(function (s) { return [s.slug, s.name]; })), "");
    });
    load();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      var kind = $("rule-kind").value;
      var body = {
        name: $("rule-name").value, kind: kind, enabled: $("rule-enabled").checked,
        notify_roles: checkedValues($("rule-roles"))
      };
      if (kind === "level_now" || kind === "forecast_level") { body.level = $("rule-level").value; }
      if (kind === "forecast_level") { body.within_hours = numberOrNull($("rule-hours").value); }
      if (kind === "stale_data") { body.minutes = numberOrNull($("rule-minutes").value); }
      if (kind !== "source_down" && $("rule-area").value) { body.area = $("rule-area").value; }
      if (kind === "source_down" && $("rule-source").value) { body.source = $("rule-source").value; }
      api("alert-rules/", { method: "POST", body: body }).then(function (rule) {
        C.setStatus(form, S.saved + " " + rule.name);
        $("rule-name").value = "";
        return load();
      }).catch(fail(form));
    });
  }

  /* --- public page settings ----------------------------------------------------------------------- */
  function publicPage() {
    var form = $("public-form");
    function show(tenant) {
      $("public-enabled").checked = tenant.public_page_enabled;
      $("public-threshold").value = String(tenant.small_count_threshold);
      $("public-retention").value = String(tenant.retention_days);
      $("public-tiles").value = tenant.map_tile_url || "";
    }
    C.request(cfg.api).then(show).catch(fail(form));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      C.request(cfg.api, {
        method: "PATCH",
        body: {
          public_page_enabled: $("public-enabled").checked,
          small_count_threshold: numberOrNull($("public-threshold").value),
          retention_days: numberOrNull($("public-retention").value),
          map_tile_url: $("public-tiles").value
        }
      }).then(function (tenant) { show(tenant); C.setStatus(form, S.saved); }).catch(fail(form));
    });
  }

  /* --- sharing agreements with other organisations ------------------------------------------------ */
  function sharingPage() {
    var form = $("offer-form");
    var DEFAULT_KINDS = ["status"];
    var OPEN = ["offered", "scheduled", "active"];

    function partnerOf(a) { return a.side === "provider" ? a.recipient : a.provider; }
    function areasText(a) {
      var parts = [];
      if (a.areas.length) { parts.push(a.areas.map(function (x) { return x.name; }).join(", ")); }
      if (a.area_tag) { parts.push(S.area_tag + " “" + a.area_tag + "”"); }
      return parts.join(" · ") || "—";
    }
    function kindsText(a) {
      var text = a.kinds.map(function (k) { return label(cfg.shareKinds, k); }).join(", ");
      return a.token_access ? text + " · " + S.token_access : text;
    }
    function validity(a) { return fmtTime(a.valid_from) + " – " + (a.valid_to ? fmtTime(a.valid_to) : S.open_ended); }
    function statusCell(a) {
      var partner = partnerOf(a);
      var parts = [el("span", { className: "badge agreement-" + a.status, text: cfg.agreementStatuses[a.status] || a.status })];
      var note = [];
      if (a.status === "ended" && a.ended_by_tenant) {
        // The other side's people are never named: its organisation is; ours by user name.
        note.push(S.ended_by + " " + (a.ended_by_tenant === partner.slug ? partner.name : (a.ended_by || cfg.tenantName)));
      }
      if ((a.status === "ended" || a.status === "declined") && a.end_reason) { note.push(a.end_reason); }
      if (note.length) { parts.push(el("span", { className: "muted small", text: note.join(": ") })); }
      return cell(parts);
    }

    function actions(a, statusLine) {
      var partner = partnerOf(a);
      var received = a.side === "recipient";
      var mayAnswer = received && a.status === "offered";
      var mayEnd = received ? (a.status === "scheduled" || a.status === "active") : OPEN.indexOf(a.status) >= 0;
      if (!mayAnswer && !mayEnd) { return ""; }
      var rowForm = el("form", { className: "row-form", novalidate: true });
      var reason = el("input", {
        type: "text", name: "reason", maxLength: 2000, placeholder: S.reason, "aria-label": partner.name + ": " + S.reason
      });
      function step(name, body, done) {
        var all = rowForm.querySelectorAll("button");
        C.clearErrors(rowForm);
        all.forEach(function (b) { b.disabled = true; });
        return api("agreements/" + a.id + "/" + name + "/", { method: "POST", body: body }).then(function () {
          statusLine.className = "form-status";
          statusLine.textContent = partner.name + ": " + done;
          return load();
        }).catch(function (error) {
          all.forEach(function (b) { b.disabled = false; });
          C.showProblem(rowForm, error.problem, rowForm);
        });
      }
      var buttons = [];
      if (mayAnswer) {
        buttons.push(el("button", {
          type: "button", className: "small-button accept", text: S.accept,
          on: { click: function () { step("accept", {}, S.accepted); } }
        }));
        buttons.push(el("button", {
          type: "button", className: "small-button secondary decline", text: S.decline,
          on: { click: function () { step("decline", { reason: reason.value }, S.declined); } }
        }));
      }
      if (mayEnd) {
        var end = el("button", { type: "button", className: "small-button danger end", text: S.end });
        end.addEventListener("click", function () {
          // Two clicks instead of confirm(), as for removing a member: ending stops the sharing at once.
          if (end.dataset.armed !== "true") {
            end.dataset.armed = "true";
            end.textContent = S.confirm_end;
            return;
          }
          step("end", { reason: reason.value }, S.ended).then(function () {
            end.dataset.armed = "false";
            end.textContent = S.end;
          });
        });
        buttons.push(end);
      }
      rowForm.append.apply(rowForm, [reason].concat(buttons, [
        el("div", { className: "form-errors", hidden: true, role: "alert" }),
        el("span", { className: "form-status", role: "status" })
      ]));
      return rowForm;
    }

    function agreementRow(a, statusLine) {
      var partner = partnerOf(a);
      return el("tr", { dataset: { id: String(a.id), status: a.status, partner: partner.slug } }, [
        el("th", { scope: "row" }, [partner.name, el("span", { className: "muted small", text: partner.slug })]),
        statusCell(a), cell(areasText(a)), cell(kindsText(a)), cell(validity(a)), cell(a.purpose),
        cell(actions(a, statusLine))
      ]);
    }

    function loadSide(side, table, statusLine) {
      return api("agreements/?side=" + side + "&page_size=1000").then(function (data) {
        fillTable(table, C.results(data).map(function (a) { return agreementRow(a, statusLine); }));
      }).catch(loadError(table));
    }
    function load() {
      return Promise.all([
        loadSide("recipient", $("received-table"), $("received-status")),
        loadSide("provider", $("offered-table"), $("offered-status"))
      ]);
    }

    function resetForm() {
      form.reset();
      checkboxes($("offer-kinds"), cfg.shareKinds, "kinds", DEFAULT_KINDS);
      $("offer-areas").querySelectorAll("input").forEach(function (input) { input.checked = false; });
    }

    checkboxes($("offer-kinds"), cfg.shareKinds, "kinds", DEFAULT_KINDS);
    api("areas/?page_size=1000").then(function (data) {
      var areas = C.results(data).map(function (a) { return [a.slug, a.name]; });
      checkboxes($("offer-areas"), areas, "areas", []);
      if (!areas.length) { $("offer-areas").replaceChildren(el("span", { className: "muted small", text: S.no_own_areas })); }
    }).catch(fail(form)).then(function () { form.dataset.ready = "true"; });
    load();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      C.clearErrors(form);
      var body = {
        recipient: $("offer-recipient").value.trim(), areas: checkedValues($("offer-areas")),
        area_tag: $("offer-tag").value.trim(), kinds: checkedValues($("offer-kinds")),
        valid_from: C.isoFromZoned($("offer-from").value, cfg.timeZone),
        valid_to: C.isoFromZoned($("offer-to").value, cfg.timeZone),
        purpose: $("offer-purpose").value, token_access: $("offer-token-access").checked
      };
      $("offer-save").disabled = true;
      api("agreements/", { method: "POST", body: body }).then(function (agreement) {
        resetForm();
        C.setStatus(form, S.offer_sent + " " + agreement.recipient.name + ".");
        return load();
      }).catch(fail(form)).then(function () { $("offer-save").disabled = false; });
    });
  }

  var pages = {
    areas: areasPage, "crowd-levels": crowdLevelsPage, events: eventsPage, sources: sourcesPage,
    members: membersPage, "alert-rules": alertRulesPage, "public": publicPage, sharing: sharingPage
  };
  var page = pages[cfg.page];
  if (page) { page(); }
  document.getElementById("settings").dataset.ready = "true";
})();
