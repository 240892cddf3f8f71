/* Crowd Safety Manager: the operator dashboard. A MapLibre map of the tenant's areas coloured (and
   patterned, and labelled) by crowd level, 2D or 3D, refreshed every 15 s; a time slider from 24 h back
   to 48 h ahead; an area panel with a chart, the model and the sources; the open alerts. Everything comes
   from the tenant API with the session cookie (and the CSRF token for writes). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("dashboard-config").textContent);
  var S = cfg.strings;
  var csrf = document.getElementById("csrf-token").value;
  var HOUR = 3600 * 1000;
  var COLORS = {
    quiet: "#2e7d32", busy: "#f9a825", very_busy: "#ef6c00", crowded: "#c62828", critical: "#6a1b9a",
    none: "#9e9e9e"
  };
  var SEVERITY = { none: -1, quiet: 0, busy: 1, very_busy: 2, crowded: 3, critical: 4 };
  var timeFmt = new Intl.DateTimeFormat(cfg.language, {
    timeZone: cfg.timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  var shortFmt = new Intl.DateTimeFormat(cfg.language, {
    timeZone: cfg.timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });

  var state = {
    geojson: null, offset: 0, selected: null, mode3d: false, bands: null, history: null,
    forecasts: {}, statuses: {}, markers: {}, map: null, mapReady: false, parents: {},
    buildings: null, pois: [], poiMarkers: {}, weather: {},
    layers: { buildings: true, transit: true, parking: true, weather: true }
  };

  function $(id) { return document.getElementById(id); }

  function api(path, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    if (options.method && options.method !== "GET") {
      headers["X-CSRFToken"] = csrf;
      headers["Content-Type"] = "application/json";
    }
    return fetch(cfg.api + path, {
      method: options.method || "GET", credentials: "same-origin", headers: headers, body: options.body
    }).then(function (response) {
      if (!response.ok) { throw new Error(path + ": HTTP " + response.status); }
      return response.json();
    });
  }

  function levelLabel(level) { return level ? S[level] : S.no_data; }
  function hourStart(ms) { return Math.floor(ms / HOUR) * HOUR; }

  /* --- crowd levels on the client (for past hours): the same rule as areas.levels.assess --------- */
  function levelFor(props, people) {
    if (people === null || people === undefined || !state.bands) { return null; }
    var bands, value;
    if (props.capacity) {
      bands = props.capacity_bands || state.bands.effective_capacity_bands;
      value = 100 * people / props.capacity;
    } else {
      bands = props.density_bands || state.bands.effective_density_bands;
      value = people / props.effective_surface_m2;
    }
    var level = "quiet";
    ["busy", "very_busy", "crowded", "critical"].forEach(function (key) { if (value >= bands[key]) { level = key; } });
    return level;
  }

  function thresholdsFor(props) {
    var out = [];
    if (!state.bands) { return out; }
    ["busy", "very_busy", "crowded", "critical"].forEach(function (key) {
      var value = props.capacity
        ? (props.capacity_bands || state.bands.effective_capacity_bands)[key] * props.capacity / 100
        : (props.density_bands || state.bands.effective_density_bands)[key] * props.effective_surface_m2;
      out.push({ level: key, label: S[key], value: value });
    });
    return out;
  }

  /* A passer-by area's forecast is in people/min per metre: its thresholds are the flow bands. */
  function flowThresholds(props) {
    if (!state.bands || !state.bands.effective_flow_bands) { return []; }
    var bands = props.flow_bands || state.bands.effective_flow_bands;
    return ["busy", "very_busy", "crowded", "critical"].map(function (key) {
      return { level: key, label: S[key], value: bands[key] };
    });
  }

  /* --- what each area shows at the slider's time ------------------------------------------------- */
  function peopleAt(slug, offset) {
    if (offset === 0) { return null; }
    var target = hourStart(Date.now()) + offset * HOUR;
    if (offset < 0) {
      var hist = state.history && state.history[slug];
      return hist && hist[target] !== undefined ? { people: hist[target] } : null;
    }
    var forecast = state.forecasts[slug];
    if (!forecast) { return null; }
    for (var i = 0; i < forecast.points.length; i += 1) {
      var p = forecast.points[i];
      if (Date.parse(p.time) === target) {
        return forecast.quantity === "flow" ? { flow: p.p50, level: p.level } : { people: p.p50, level: p.level };
      }
    }
    return null;
  }

  function displayed(feature) {
    var props = feature.properties;
    var st = props.status || {};
    if (state.offset === 0) {
      // With no data at all there is nothing to call stale.
      return {
        level: st.level || null, people: st.people, density: st.density, flow: st.flow,
        flowMethod: st.flow_method, stale: !!(st.level && st.stale)
      };
    }
    var at = peopleAt(props.slug, state.offset);
    if (!at) { return { level: null, people: null, density: null, stale: false }; }
    if (at.flow !== undefined) { return { level: at.level, people: null, density: null, flow: at.flow, stale: false }; }
    var density = at.people / props.effective_surface_m2;
    return { level: at.level || levelFor(props, at.people), people: at.people, density: density, stale: false };
  }

  function renderedData() {
    var features = state.geojson.features.map(function (feature) {
      var shown = displayed(feature);
      var props = Object.assign({}, feature.properties);
      delete props.status;
      props.lvl = shown.level || "none";
      props.h = Math.max(shown.density || 0, 0.02) * 250;
      props.is_parent = !!state.parents[props.slug];
      props.selected = props.slug === state.selected;
      return { type: "Feature", id: feature.id, geometry: feature.geometry, properties: props };
    });
    return { type: "FeatureCollection", features: features };
  }

  /* --- the map ----------------------------------------------------------------------------------- */
  function patternImage(level) {
    var size = 16, data = new Uint8Array(size * size * 4);
    function dot(px, py) {
      var i = (py * size + px) * 4;
      data[i] = 20; data[i + 1] = 20; data[i + 2] = 20; data[i + 3] = 150;
    }
    for (var py = 0; py < size; py += 1) {
      for (var px = 0; px < size; px += 1) {
        if (level === "busy" && px % 8 === 0 && py % 8 === 0) { dot(px, py); }
        if (level === "very_busy" && (px + py) % 8 === 0) { dot(px, py); }
        if (level === "crowded" && ((px + py) % 6 === 0 || (px - py + 16) % 6 === 0)) { dot(px, py); }
        if (level === "critical" && ((px + py) % 4 === 0 || (px - py + 16) % 4 === 0)) { dot(px, py); }
        if (level === "none" && px % 4 === 0 && py % 4 === 0) { dot(px, py); }
      }
    }
    return { width: size, height: size, data: data };
  }

  var colorExpr = ["match", ["get", "lvl"]];
  Object.keys(COLORS).forEach(function (level) { if (level !== "none") { colorExpr.push(level, COLORS[level]); } });
  colorExpr.push(COLORS.none);

  function initMap() {
    var script = $("maplibre-script");
    if (!window.maplibregl) { return; }
    maplibregl.setWorkerUrl(script.dataset.workerUrl);
    var style = {
      version: 8, sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": "#e8ecf0" } }]
    };
    if (cfg.tileUrl) {
      style.sources.base = { type: "raster", tiles: [cfg.tileUrl], tileSize: 256 };
      style.layers.push({ id: "base", type: "raster", source: "base" });
    }
    var map;
    try {
      map = new maplibregl.Map({
        container: "map", style: style, center: [4.29, 52.11], zoom: 13, attributionControl: false,
        maxPitch: 70, keyboard: true
      });
    } catch (error) {
      $("map").textContent = error.message;
      $("map").classList.add("map-failed");
      return;
    }
    state.map = map;
    map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "top-right");
    map.on("load", function () {
      ["quiet", "busy", "very_busy", "crowded", "critical", "none"].forEach(function (level) {
        map.addImage("pat-" + level, patternImage(level));
      });
      map.addSource("buildings", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
      map.addLayer({
        id: "buildings-3d", type: "fill-extrusion", source: "buildings", layout: { visibility: "none" },
        paint: {
          "fill-extrusion-color": "#9ea3a8", "fill-extrusion-height": ["get", "height"],
          "fill-extrusion-base": 0, "fill-extrusion-opacity": 0.9
        }
      });
      map.addSource("areas", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
      map.addLayer({
        id: "areas-fill", type: "fill", source: "areas", filter: ["!", ["get", "is_parent"]],
        paint: { "fill-color": colorExpr, "fill-opacity": 0.55 }
      });
      map.addLayer({
        id: "areas-pattern", type: "fill", source: "areas", filter: ["!", ["get", "is_parent"]],
        paint: { "fill-pattern": ["concat", "pat-", ["get", "lvl"]] }
      });
      map.addLayer({
        id: "areas-3d", type: "fill-extrusion", source: "areas", filter: ["!", ["get", "is_parent"]],
        layout: { visibility: "none" },
        paint: { "fill-extrusion-color": colorExpr, "fill-extrusion-height": ["get", "h"], "fill-extrusion-opacity": 0.85 }
      });
      map.addLayer({
        id: "areas-line", type: "line", source: "areas",
        paint: {
          "line-color": ["case", ["get", "is_parent"], "#14213d", "#37474f"],
          "line-width": ["case", ["get", "selected"], 4, ["get", "is_parent"], 2.5, 1.2],
          "line-dasharray": ["case", ["get", "is_parent"], ["literal", [3, 2]], ["literal", [1, 0]]]
        }
      });
      ["areas-fill", "areas-3d"].forEach(function (layer) {
        map.on("click", layer, function (e) { if (e.features.length) { openArea(e.features[0].properties.slug); } });
        map.on("mouseenter", layer, function () { map.getCanvas().style.cursor = "pointer"; });
        map.on("mouseleave", layer, function () { map.getCanvas().style.cursor = ""; });
      });
      state.mapReady = true;
      render(true);
      renderBuildings();
      renderPois();
    });
  }

  function setMode(threeD) {
    state.mode3d = threeD;
    $("view-2d").setAttribute("aria-pressed", String(!threeD));
    $("view-3d").setAttribute("aria-pressed", String(threeD));
    $("map").dataset.mode = threeD ? "3d" : "2d";
    if (!state.mapReady) { return; }
    var map = state.map;
    map.setLayoutProperty("areas-3d", "visibility", threeD ? "visible" : "none");
    map.setLayoutProperty("areas-fill", "visibility", threeD ? "none" : "visible");
    map.setLayoutProperty("areas-pattern", "visibility", threeD ? "none" : "visible");
    renderBuildings();
    map.easeTo({ pitch: threeD ? 55 : 0, bearing: threeD ? -20 : 0, duration: 600 });
  }

  function markerElement(feature) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "area-marker";
    button.dataset.slug = feature.properties.slug;
    button.addEventListener("click", function () { openArea(feature.properties.slug); });
    return button;
  }

  /* Passer-by areas: a flow through counting lines, not people present (areas.levels says how). */
  function hasFlow(shown) { return shown.flow !== null && shown.flow !== undefined; }
  function flowText(shown) { return shown.flow.toFixed(1) + " " + S.flow; }
  function flowBasis(shown) {
    if (shown.flowMethod === "weidmann" && shown.density !== null && shown.density !== undefined) {
      return "≈ " + shown.density.toFixed(2) + " " + S.density + " (" + S.flow_weidmann + ")";
    }
    return shown.flowMethod ? "(" + S.flow_fruin + ")" : "";
  }

  function describe(feature, shown) {
    var parts = [levelLabel(shown.level)];
    if (shown.people !== null && shown.people !== undefined) { parts.push(Math.round(shown.people) + " " + S.people); }
    if (hasFlow(shown)) { parts.push(flowText(shown)); }
    if (shown.stale) { parts.push(S.stale); }
    return parts.join(" · ");
  }

  function render(fit) {
    if (!state.geojson) { return; }
    var features = state.geojson.features;
    state.parents = {};
    features.forEach(function (f) { if (f.properties.parent) { state.parents[f.properties.parent] = true; } });
    if (state.mapReady) {
      state.map.getSource("areas").setData(renderedData());
      var seen = {};
      features.forEach(function (feature) {
        var slug = feature.properties.slug;
        seen[slug] = true;
        var marker = state.markers[slug];
        if (!marker) {
          marker = new maplibregl.Marker({ element: markerElement(feature) })
            .setLngLat(feature.properties.centroid).addTo(state.map);
          state.markers[slug] = marker;
        }
        var shown = displayed(feature);
        var node = marker.getElement();
        // Keep MapLibre's own marker classes (they position the element); swap only ours.
        Array.prototype.slice.call(node.classList).forEach(function (c) {
          if (c.indexOf("lvl-") === 0) { node.classList.remove(c); }
        });
        node.classList.add("area-marker", "lvl-" + (shown.level || "none"));
        node.classList.toggle("parent", !!state.parents[slug]);
        node.replaceChildren();
        var name = document.createElement("span");
        name.className = "marker-name";
        name.textContent = feature.properties.name;
        var lvl = document.createElement("span");
        lvl.className = "marker-level";
        lvl.textContent = levelLabel(shown.level) + (shown.stale ? " · " + S.stale : "");
        node.append(name, lvl);
        node.setAttribute("aria-label", feature.properties.name + ": " + describe(feature, shown));
      });
      Object.keys(state.markers).forEach(function (slug) {
        if (!seen[slug]) { state.markers[slug].remove(); delete state.markers[slug]; }
      });
      if (fit && state.geojson.bbox) {
        var b = state.geojson.bbox;
        state.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 60, duration: 0, maxZoom: 17 });
      }
    }
    renderAreaList();
    if (state.selected) { renderPanelSummary(); }
  }

  function renderAreaList() {
    var list = $("area-list");
    var items = state.geojson.features.map(function (f) { return { feature: f, shown: displayed(f) }; });
    items.sort(function (a, b) {
      return SEVERITY[b.shown.level || "none"] - SEVERITY[a.shown.level || "none"]
        || a.feature.properties.name.localeCompare(b.feature.properties.name);
    });
    list.replaceChildren.apply(list, items.map(function (item) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "area-item";
      button.dataset.slug = item.feature.properties.slug;
      if (item.feature.properties.slug === state.selected) { button.setAttribute("aria-current", "true"); }
      var badge = document.createElement("span");
      badge.className = "badge lvl-" + (item.shown.level || "none");
      badge.textContent = levelLabel(item.shown.level);
      var name = document.createElement("span");
      name.textContent = item.feature.properties.name;
      var extra = document.createElement("span");
      extra.className = "muted-inline";
      var bits = [];
      if (item.shown.people !== null && item.shown.people !== undefined) { bits.push(Math.round(item.shown.people)); }
      if (hasFlow(item.shown)) { bits.push(flowText(item.shown)); }
      var trend = state.offset === 0 && item.feature.properties.status && item.feature.properties.status.trend;
      if (trend && trend["15m"]) { bits.push(S[trend["15m"]] || trend["15m"]); }
      if (item.shown.stale) { bits.push(S.stale); }
      extra.textContent = bits.join(" · ");
      button.append(badge, name, extra);
      button.addEventListener("click", function () { openArea(item.feature.properties.slug); });
      li.appendChild(button);
      return li;
    }));
  }

  /* --- loading ------------------------------------------------------------------------------------ */
  function loadAreas(fit) {
    return api("areas.geojson").then(function (data) {
      state.geojson = data;
      $("updated").textContent = S.updated + " " + shortFmt.format(new Date());
      $("updated").classList.remove("error");
      render(fit);
    }).catch(function () {
      $("updated").textContent = S.load_error;
      $("updated").classList.add("error");
    });
  }

  function loadHistory() {
    if (!cfg.mayViewHistory) { state.history = {}; return Promise.resolve(); }
    var start = new Date(hourStart(Date.now()) - 25 * HOUR).toISOString();
    return api("observations/?metric=people_count&resample=hour&start=" + encodeURIComponent(start))
      .then(function (data) {
        var perArea = {};
        data.series.forEach(function (series) {
          if (!series.area) { return; }
          var hours = perArea[series.area] = perArea[series.area] || {};
          series.points.forEach(function (point) {
            var t = Date.parse(point[0]);
            hours[t] = (hours[t] || 0) + point[1];
          });
        });
        // A parent without its own counts is the sum of its sub-areas (the status fusion rule).
        state.geojson.features.forEach(function (f) {
          var slug = f.properties.slug;
          if (perArea[slug]) { return; }
          var kids = state.geojson.features.filter(function (k) { return k.properties.parent === slug; });
          if (!kids.length || !kids.every(function (k) { return perArea[k.properties.slug]; })) { return; }
          var sum = {};
          Object.keys(perArea[kids[0].properties.slug]).forEach(function (t) {
            if (kids.every(function (k) { return perArea[k.properties.slug][t] !== undefined; })) {
              sum[t] = kids.reduce(function (acc, k) { return acc + perArea[k.properties.slug][t]; }, 0);
            }
          });
          perArea[slug] = sum;
        });
        state.history = perArea;
      });
  }

  function loadForecast(feature) {
    var slug = feature.properties.slug;
    if (state.forecasts[slug]) { return Promise.resolve(state.forecasts[slug]); }
    return api("areas/" + feature.properties.id + "/forecast/").then(function (data) {
      state.forecasts[slug] = data;
      return data;
    });
  }

  function loadAllForecasts() {
    return Promise.all(state.geojson.features.map(loadForecast));
  }

  /* --- time slider -------------------------------------------------------------------------------- */
  function onSlider() {
    var offset = parseInt($("time-slider").value, 10);
    state.offset = offset;
    var target = hourStart(Date.now()) + offset * HOUR;
    var label = offset === 0 ? S.now : timeFmt.format(new Date(target)) + " (" + (offset > 0 ? "+" : "") + offset + " h)";
    $("time-label").textContent = offset === 0 ? label : (offset < 0 ? S.observed : S.forecast) + " · " + label;
    $("time-mode").textContent = offset === 0 ? S.live_view : (offset < 0 ? S.past_view : S.future_view) + " " + label;
    $("dashboard").dataset.offset = String(offset);
    var loading = Promise.resolve();
    if (offset < 0 && !state.history) { loading = loadHistory(); }
    if (offset > 0) { loading = loadAllForecasts(); }
    loading.then(function () { render(false); }).catch(function () {
      $("time-mode").textContent = S.load_error;
    });
  }

  /* --- area panel --------------------------------------------------------------------------------- */
  function featureOf(slug) {
    return state.geojson.features.filter(function (f) { return f.properties.slug === slug; })[0];
  }

  function renderPanelSummary() {
    var feature = featureOf(state.selected);
    if (!feature) { return; }
    var shown = displayed(feature);
    var props = feature.properties;
    var parts = [levelLabel(shown.level)];
    if (shown.people !== null && shown.people !== undefined) {
      parts.push(Math.round(shown.people) + " " + S.people);
      parts.push(props.capacity
        ? Math.round(100 * shown.people / props.capacity) + "% " + S.capacity
        : shown.density.toFixed(2) + " " + S.density);
    }
    if (hasFlow(shown)) {
      parts.push(flowText(shown));
      if (flowBasis(shown)) { parts.push(flowBasis(shown)); }
    }
    if (state.offset === 0 && props.status && props.status.trend && props.status.trend["15m"]) {
      parts.push(S[props.status.trend["15m"]]);
    }
    if (shown.stale) { parts.push(S.stale); }
    var summary = $("area-summary");
    summary.className = "summary lvl-" + (shown.level || "none");
    summary.textContent = parts.join(" · ");
  }

  function openArea(slug) {
    var feature = featureOf(slug);
    if (!feature) { return; }
    state.selected = slug;
    var props = feature.properties;
    var panel = $("area-panel");
    panel.hidden = false;
    panel.dataset.slug = slug;
    $("area-title").textContent = props.name;
    var caption = props.capacity
      ? S.capacity + " " + props.capacity
      : S.surface + " " + Math.round(props.effective_surface_m2).toLocaleString() + " m²";
    $("chart-caption").textContent = S.chart_title + " (" + caption + ")";
    render(false);
    panel.focus();
    var now = Date.now();
    var start = new Date(now - 24 * HOUR).toISOString();
    var past = cfg.mayViewHistory
      ? api("observations/?area=" + encodeURIComponent(slug) + "&metric=people_count&resample=hour&start=" + encodeURIComponent(start))
      : Promise.resolve({ series: [] });
    Promise.all([past, loadForecast(feature), api("areas/status/")]).then(function (results) {
      if (state.selected !== slug) { return; }
      var observed = {};
      results[0].series.forEach(function (series) {
        series.points.forEach(function (p) { var t = Date.parse(p[0]); observed[t] = (observed[t] || 0) + p[1]; });
      });
      if (!results[0].series.length && state.history && state.history[slug]) { observed = state.history[slug]; }
      var points = Object.keys(observed).map(Number).sort(function (a, b) { return a - b; }).map(function (t) { return [t, observed[t]]; });
      var forecast = results[1];
      window.CsmChart.render($("area-chart"), {
        start: now - 24 * HOUR, end: now + 48 * HOUR, now: now, observed: points,
        forecast: forecast.points.map(function (p) { return { t: Date.parse(p.time), p10: p.p10, p50: p.p50, p90: p.p90 }; }),
        thresholds: forecast.quantity === "flow" ? flowThresholds(props) : thresholdsFor(props), strings: S,
        title: props.name + ": " + (forecast.quantity === "flow" ? S.flow : S.chart_title),
        formatTime: function (ms) {
          var h = Math.round((ms - now) / HOUR);
          return h === 0 ? S.now + " " + shortFmt.format(new Date(ms)) : (h > 0 ? "+" : "−") + Math.abs(h) + " h";
        }
      });
      var model = [S.method + ": " + forecast.method];
      if (forecast.model_version) { model.push(S.model + " " + forecast.model_version); }
      if (forecast.accuracy && forecast.accuracy["24"] && forecast.accuracy["24"].ratio) {
        model.push("MAE 24 h = " + forecast.accuracy["24"].ratio.toFixed(2) + " × seasonal naive");
      }
      $("area-model").textContent = model.join(" · ");
      var status = results[2].areas.filter(function (a) { return a.slug === slug; })[0];
      renderSources(status ? status.sources : []);
    }).catch(function () {
      $("area-model").textContent = S.load_error;
    });
  }

  function renderSources(sources) {
    var list = $("area-sources");
    if (!sources.length) {
      var empty = document.createElement("li");
      empty.textContent = S.no_sources;
      list.replaceChildren(empty);
      return;
    }
    list.replaceChildren.apply(list, sources.map(function (s) {
      var li = document.createElement("li");
      var fresh = document.createElement("span");
      fresh.className = "badge " + (s.stale ? "status-stale" : "status-ok");
      fresh.textContent = s.stale ? S.stale : S.fresh;
      var text = document.createElement("span");
      var age = s.time ? Math.round((Date.now() - Date.parse(s.time)) / 60000) + " " + S.minutes_old : "—";
      text.textContent = s.source + " / " + s.series + " (" + s.metric + ") · " + age;
      li.append(fresh, text);
      return li;
    }));
  }

  function closeArea() {
    state.selected = null;
    $("area-panel").hidden = true;
    render(false);
  }

  /* --- map layers: buildings in 3D, transport stops, parking garages, a weather summary ------------ */
  var POI_METRICS = ["transit_arrivals", "transit_occupancy", "parking_vacant", "parking_capacity"];
  var WEATHER_METRICS = ["temperature", "precipitation", "wind_speed"];
  var LABEL_SUFFIX = / (arrivals|occupancy|vacant spaces|capacity)$/;

  function loadBuildings() {
    if (!cfg.mayViewBuildings) { return Promise.resolve(); }
    return api("buildings.geojson").then(function (data) {
      state.buildings = data;
      var toggle = $("layer-buildings");
      toggle.disabled = !data.features.length;
      toggle.parentNode.title = data.features.length ? "" : S.no_buildings;
      renderBuildings();
    }).catch(function () { /* the map works without buildings */ });
  }

  function renderBuildings() {
    var count = state.buildings ? state.buildings.features.length : 0;
    var shown = state.mode3d && state.layers.buildings && count > 0;
    $("map").dataset.buildings = shown ? String(count) : "0";
    if (!state.mapReady) { return; }
    if (state.buildings) { state.map.getSource("buildings").setData(state.buildings); }
    state.map.setLayoutProperty("buildings-3d", "visibility", shown ? "visible" : "none");
  }

  /* Stops and garages: the series of one place (same source, facility or position) become one point. */
  function groupPois(features) {
    var groups = {};
    var order = [];
    features.forEach(function (f) {
      var p = f.properties;
      if (POI_METRICS.indexOf(p.metric) < 0) { return; }
      var kind = p.metric.indexOf("parking") === 0 ? "parking" : "transit";
      var id = kind + "|" + p.source + "|" + (p.facility || f.geometry.coordinates.join(","));
      if (!groups[id]) {
        groups[id] = { id: id, kind: kind, coordinates: f.geometry.coordinates, name: "", values: {} };
        order.push(id);
      }
      var group = groups[id];
      group.values[p.metric] = p;
      if (!group.name || p.metric === "transit_arrivals" || p.metric === "parking_vacant") {
        group.name = (p.name || p.facility || p.key).replace(LABEL_SUFFIX, "");
      }
    });
    return order.map(function (id) { return groups[id]; });
  }

  function ageText(iso) {
    return iso ? Math.round((Date.now() - Date.parse(iso)) / 60000) + " " + S.minutes_old : S.no_data;
  }

  function poiText(poi) {
    var v = poi.values;
    if (poi.kind === "parking") {
      var vacant = v.parking_vacant, capacity = v.parking_capacity;
      if (!vacant || vacant.latest_value === null) { return S.no_data; }
      var text = vacant.latest_value === 0 ? S.full : S.free + " " + Math.round(vacant.latest_value);
      if (capacity && capacity.latest_value !== null) { text += " / " + Math.round(capacity.latest_value); }
      return text;
    }
    var bits = [];
    if (v.transit_arrivals && v.transit_arrivals.latest_value !== null) {
      bits.push(Math.round(v.transit_arrivals.latest_value) + " " + S.arrivals);
    }
    if (v.transit_occupancy && v.transit_occupancy.latest_value !== null) {
      bits.push(S.occupancy + " " + Math.round(v.transit_occupancy.latest_value) + " %");
    }
    return bits.length ? bits.join(" · ") : S.no_data;
  }

  function poiMain(poi) {
    return poi.values[poi.kind === "parking" ? "parking_vacant" : "transit_arrivals"] ||
      poi.values[Object.keys(poi.values)[0]];
  }

  function renderPois() {
    var seen = {};
    var visible = 0;
    state.pois.forEach(function (poi) {
      var main = poiMain(poi);
      var stale = !main || main.stale;
      var on = state.layers[poi.kind];
      if (state.mapReady) {
        seen[poi.id] = true;
        var marker = state.poiMarkers[poi.id];
        if (!marker) {
          // The list beside the map says the same in words: the marker is a picture of it.
          var node = el("div", { className: "poi-marker poi-" + poi.kind, "aria-hidden": "true" });
          marker = new maplibregl.Marker({ element: node, anchor: "bottom-left" }).setLngLat(poi.coordinates).addTo(state.map);
          node.removeAttribute("tabindex");
          state.poiMarkers[poi.id] = marker;
        }
        var element = marker.getElement();
        element.classList.toggle("stale", stale);
        element.classList.toggle("full", poi.kind === "parking" && !!main && main.latest_value === 0);
        element.hidden = !on;
        element.replaceChildren(
          el("span", { className: "poi-icon", text: poi.kind === "parking" ? "P" : "T" }),
          el("span", { className: "poi-text", text: poiText(poi) })
        );
        element.title = poi.name;
      }
      if (on) { visible += 1; }
    });
    Object.keys(state.poiMarkers).forEach(function (id) {
      if (!seen[id]) { state.poiMarkers[id].remove(); delete state.poiMarkers[id]; }
    });
    $("map").dataset.pois = String(visible);
    renderPoiList();
  }

  function renderPoiList() {
    var panel = $("poi-panel");
    if (!panel) { return; }
    var pois = state.pois.filter(function (poi) { return state.layers[poi.kind]; });
    panel.hidden = !pois.length;
    var list = $("poi-list");
    list.replaceChildren.apply(list, pois.map(function (poi) {
      var main = poiMain(poi);
      var stale = !main || main.stale;
      var go = el("button", { type: "button", className: "poi-item", dataset: { kind: poi.kind } }, [
        el("span", { className: "poi-icon poi-" + poi.kind, text: poi.kind === "parking" ? "P" : "T", "aria-hidden": "true" }),
        el("span", { className: "visually-hidden", text: poi.kind === "parking" ? S.parking_garage + ": " : S.stop + ": " }),
        el("span", { text: poi.name }),
        el("span", { className: "muted-inline", text: poiText(poi) + (stale ? " · " + S.stale : "") +
          " · " + ageText(main && main.latest_time) })
      ]);
      go.addEventListener("click", function () {
        if (state.mapReady) { state.map.easeTo({ center: poi.coordinates, zoom: Math.max(state.map.getZoom(), 17) }); }
      });
      return el("li", {}, [go]);
    }));
  }

  function pickWeather(series) {
    // The freshest series of each weather metric.
    series.forEach(function (s) {
      if (WEATHER_METRICS.indexOf(s.metric) < 0 || s.latest_value === null || !s.latest_time) { return; }
      var have = state.weather[s.metric];
      if (!have || Date.parse(s.latest_time) > Date.parse(have.latest_time)) { state.weather[s.metric] = s; }
    });
  }

  function loadLayers(withWeather) {
    if (!cfg.mayViewHistory) { return Promise.resolve(); }
    var metrics = POI_METRICS.concat(WEATHER_METRICS).join(",");
    return api("series.geojson?metric=" + metrics).then(function (data) {
      state.pois = groupPois(data.features);
      renderPois();
      if (!withWeather) { return null; }
      state.weather = {};
      pickWeather(data.features.map(function (f) { return f.properties; }));
      // Weather without a position (one station for the whole town) is not in the map layer: ask the list.
      var missing = WEATHER_METRICS.filter(function (m) { return !state.weather[m]; });
      return Promise.all(missing.map(function (m) {
        return api("series/?page_size=50&metric=" + m).then(function (list) { pickWeather(list.results || list); });
      })).then(renderWeather);
    }).catch(function () { /* the areas carry on; the next refresh tries again */ });
  }

  function renderWeather() {
    var box = $("weather-box");
    var rows = [["temperature", S.temperature], ["precipitation", S.precipitation], ["wind_speed", S.wind]];
    var items = [];
    var newest = null;
    rows.forEach(function (row) {
      var s = state.weather[row[0]];
      if (!s) { return; }
      var value = Math.round(s.latest_value * 10) / 10;
      items.push(el("dt", { text: row[1] }), el("dd", { dataset: { metric: row[0] }, text: value.toLocaleString(cfg.language) + " " + s.unit }));
      if (!newest || Date.parse(s.latest_time) > Date.parse(newest)) { newest = s.latest_time; }
    });
    if (newest) { items.push(el("dt", { text: S.as_of }), el("dd", { text: shortFmt.format(new Date(newest)) })); }
    $("weather-values").replaceChildren.apply($("weather-values"), items);
    box.hidden = !items.length || !state.layers.weather;
  }

  ["buildings", "transit", "parking", "weather"].forEach(function (name) {
    var toggle = $("layer-" + name);
    if (!toggle) { return; }  // roles without the series see buildings only
    toggle.addEventListener("change", function (event) {
      state.layers[name] = event.target.checked;
      if (name === "buildings") { renderBuildings(); }
      else if (name === "weather") { renderWeather(); }
      else { renderPois(); }
    });
  });

  /* --- alerts ------------------------------------------------------------------------------------- */
  function loadAlerts() {
    var list = $("alerts");
    if (!list || !cfg.mayReadAlerts) { return Promise.resolve(); }
    return api("alerts/?state=active&page_size=50").then(function (data) {
      var alerts = data.results || data;
      if (!alerts.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = S.no_alerts;
        list.replaceChildren(none);
        return;
      }
      list.replaceChildren.apply(list, alerts.map(function (alert) {
        var li = document.createElement("li");
        li.className = "alert alert-" + alert.state;
        li.dataset.alertId = alert.id;
        var head = document.createElement("p");
        head.className = "alert-head";
        var badge = document.createElement("span");
        badge.className = "badge lvl-" + (alert.level || "none");
        badge.textContent = alert.level ? S[alert.level] : alert.kind;
        var when = document.createElement("time");
        when.dateTime = alert.opened_at;
        when.textContent = timeFmt.format(new Date(alert.opened_at));
        var st = document.createElement("span");
        st.className = "muted-inline";
        st.textContent = alert.state === "open" ? S.open : S.acknowledged + (alert.acknowledged_by ? " (" + alert.acknowledged_by + ")" : "");
        head.append(badge, when, st);
        var msg = document.createElement("p");
        msg.textContent = alert.message;
        li.append(head, msg);
        if (alert.area && featureOf(alert.area)) {
          var link = document.createElement("button");
          link.type = "button";
          link.className = "link-button";
          link.textContent = featureOf(alert.area).properties.name;
          link.addEventListener("click", function () { openArea(alert.area); });
          li.appendChild(link);
        }
        if (cfg.mayLogActions) {
          var log = document.createElement("button");
          log.type = "button";
          log.className = "log-action";
          log.textContent = S.log_action;
          log.addEventListener("click", function () { openActionDialog({ alert: alert }); });
          li.appendChild(log);
        }
        if (alert.state === "open" && cfg.mayAcknowledge) {
          var ack = document.createElement("button");
          ack.type = "button";
          ack.className = "ack";
          ack.textContent = S.acknowledge;
          ack.addEventListener("click", function () {
            ack.disabled = true;
            api("alerts/" + alert.id + "/acknowledge/", { method: "POST", body: "{}" })
              .then(loadAlerts)
              .catch(function () { ack.disabled = false; ack.textContent = S.load_error; });
          });
          li.appendChild(ack);
        }
        return li;
      }));
    }).catch(function () {
      var item = document.createElement("li");
      item.className = "error";
      item.textContent = S.load_error;
      list.replaceChildren(item);
    });
  }

  /* --- action log and incidents ------------------------------------------------------------------ */
  var el = window.Csm.el;
  var interventions = null;

  function loadInterventions() {
    if (interventions) { return Promise.resolve(interventions); }
    return api("interventions/?page_size=200").then(function (data) {
      interventions = data.results || data;
      return interventions;
    });
  }

  function interventionName(slug) {
    var found = (interventions || []).filter(function (i) { return i.slug === slug; })[0];
    return found ? found.name : slug;
  }

  function areaName(slug) {
    var feature = state.geojson && featureOf(slug);
    return feature ? feature.properties.name : slug;
  }

  function loadActions() {
    var list = $("actions");
    if (!list || !cfg.mayReadActions) { return Promise.resolve(); }
    var since = new Date(Date.now() - 24 * HOUR).toISOString();
    return Promise.all([
      api("actions/?page_size=50&since=" + encodeURIComponent(since)),
      loadInterventions().catch(function () { return []; })
    ]).then(function (results) {
      var entries = results[0].results || results[0];
      if (!entries.length) {
        list.replaceChildren(el("li", { className: "muted", text: S.no_actions }));
        return;
      }
      list.replaceChildren.apply(list, entries.map(renderAction));
    }).catch(function () {
      list.replaceChildren(el("li", { className: "error", text: S.load_error }));
    });
  }

  function renderAction(entry) {
    var status = el("span", {
      className: "badge action-" + entry.status, text: cfg.actionStatuses[entry.status] || entry.status
    });
    var when = [];
    if (entry.started_at) { when.push(S.since + " " + timeFmt.format(new Date(entry.started_at))); }
    if (entry.ended_at) { when.push(S.until + " " + shortFmt.format(new Date(entry.ended_at))); }
    var li = el("li", { className: "action action-" + entry.status, dataset: { actionId: entry.id } }, [
      el("p", { className: "alert-head" }, [status, el("strong", { text: interventionName(entry.intervention) })]),
      entry.description ? el("p", { text: entry.description }) : null,
      el("p", { className: "muted-inline" }, [
        entry.areas.map(areaName).join(", ") + " · " + when.join(" ") +
        (entry.created_by ? " · " + S.by + " " + entry.created_by : "")
      ])
    ]);
    if (entry.status === "active" && cfg.mayLogActions) {
      var end = el("button", { type: "button", className: "ack end-action", text: S.end_action });
      end.addEventListener("click", function () {
        end.disabled = true;
        window.Csm.request(cfg.api + "actions/" + entry.id + "/", {
          method: "PATCH", body: { status: "ended", ended_at: new Date().toISOString() }
        }).then(loadActions).catch(function (error) {
          end.disabled = false;
          $("actions-feedback").textContent = (error.problem && error.problem.detail) || S.load_error;
        });
      });
      li.appendChild(end);
    }
    return li;
  }

  function fillSelect(select, options, selected) {
    select.replaceChildren.apply(select, options.map(function (o) {
      return el("option", { value: o[0], text: o[1], selected: o[0] === selected });
    }));
  }

  function sortedAreas() {
    return state.geojson.features.map(function (f) { return f.properties; }).sort(function (a, b) {
      return a.name.localeCompare(b.name);
    });
  }

  function renderSimilar(rows) {
    var list = $("similar-list");
    $("action-similar").hidden = false;
    if (!rows.length) {
      list.replaceChildren(el("li", { className: "muted small", text: S.no_similar }));
      return;
    }
    list.replaceChildren.apply(list, rows.map(function (row) {
      var bits = [row.count + "×"];
      if (row.median_effect_pct !== null && row.median_effect_pct !== undefined) {
        var spread = row.p25_effect_pct !== null && row.p25_effect_pct !== row.p75_effect_pct
          ? " (" + row.p25_effect_pct + " … " + row.p75_effect_pct + " %)" : "";
        bits.push(S.median_effect + " " + (row.median_effect_pct > 0 ? "+" : "") + row.median_effect_pct + " %" + spread);
      }
      if (row.judged) { bits.push(row.judged_effective + "/" + row.judged + " " + S.judged_effective); }
      if (row.low_confidence) { bits.push(row.low_confidence + " " + S.low_confidence); }
      var use = el("button", { type: "button", className: "link-button", text: S.use_measure });
      use.addEventListener("click", function () { $("action-intervention").value = row.intervention; });
      return el("li", { className: "similar-row" }, [
        el("strong", { text: row.intervention_name }), " · " + bits.join(" · ") + " ", use
      ]);
    }));
  }

  function openActionDialog(options) {
    var dialog = $("action-dialog");
    var form = $("action-form");
    var alert = options.alert || null;
    window.Csm.clearErrors(form);
    form.reset();
    $("action-alert").value = alert ? String(alert.id) : "";
    var context = $("action-context");
    context.hidden = !alert;
    context.textContent = alert ? S.answers_alert + " " + alert.message : "";
    $("action-similar").hidden = true;
    $("similar-list").replaceChildren();
    var chosen = options.area || (alert && alert.area);
    $("action-areas").replaceChildren.apply($("action-areas"), sortedAreas().map(function (props) {
      return el("label", { className: "check" }, [
        el("input", { type: "checkbox", name: "areas", value: props.slug, checked: props.slug === chosen }),
        " " + props.name
      ]);
    }));
    $("action-started").value = window.Csm.localValue(new Date());
    loadInterventions().then(function (types) {
      fillSelect($("action-intervention"), [["", S.choose]].concat(types.map(function (t) { return [t.slug, t.name]; })), "");
    }).catch(function () { window.Csm.showProblem(form, { detail: S.load_error }); });
    if (alert) {
      api("alerts/" + alert.id + "/").then(function (detail) {
        if ($("action-alert").value === String(alert.id)) { renderSimilar(detail.similar || []); }
      }).catch(function () { /* the form works without it */ });
    }
    dialog.showModal();
  }

  function submitAction(event) {
    event.preventDefault();
    var form = $("action-form");
    var areas = Array.prototype.slice.call(form.querySelectorAll("input[name=areas]:checked"))
      .map(function (input) { return input.value; });
    var body = {
      intervention: $("action-intervention").value,
      description: $("action-description").value,
      areas: areas,
      started_at: window.Csm.isoFromLocal($("action-started").value)
    };
    if ($("action-alert").value) { body.alerts = [parseInt($("action-alert").value, 10)]; }
    $("action-save").disabled = true;
    window.Csm.request(cfg.api + "actions/", { method: "POST", body: body }).then(function () {
      $("action-dialog").close();
      $("actions-feedback").textContent = S.saved_action;
      return loadActions();
    }).catch(function (error) {
      window.Csm.showProblem(form, error.problem);
    }).then(function () { $("action-save").disabled = false; });
  }

  function openIncidentDialog(slug) {
    var form = $("incident-form");
    window.Csm.clearErrors(form);
    form.reset();
    fillSelect($("incident-area"), sortedAreas().map(function (p) { return [p.slug, p.name]; }), slug);
    fillSelect($("incident-kind"), cfg.incidentKinds, "overcrowding");
    fillSelect($("incident-severity"), cfg.severities, "medium");
    $("incident-occurred").value = window.Csm.localValue(new Date());
    $("incident-dialog").showModal();
  }

  function submitIncident(event) {
    event.preventDefault();
    var form = $("incident-form");
    var body = {
      area: $("incident-area").value,
      kind: $("incident-kind").value,
      severity: $("incident-severity").value,
      occurred_at: window.Csm.isoFromLocal($("incident-occurred").value),
      description: $("incident-description").value
    };
    $("incident-save").disabled = true;
    window.Csm.request(cfg.api + "incidents/", { method: "POST", body: body }).then(function () {
      $("incident-dialog").close();
      $("area-feedback").textContent = S.saved_incident;
    }).catch(function (error) {
      window.Csm.showProblem(form, error.problem);
    }).then(function () { $("incident-save").disabled = false; });
  }

  if (cfg.mayLogActions) {
    $("action-form").addEventListener("submit", submitAction);
    $("incident-form").addEventListener("submit", submitIncident);
    document.querySelectorAll("dialog [data-close]").forEach(function (button) {
      button.addEventListener("click", function () { button.closest("dialog").close(); });
    });
    $("area-log-action").addEventListener("click", function () {
      if (state.selected) { openActionDialog({ area: state.selected }); }
    });
    $("area-report-incident").addEventListener("click", function () {
      if (state.selected) { openIncidentDialog(state.selected); }
    });
  }

  /* --- start -------------------------------------------------------------------------------------- */
  $("view-2d").addEventListener("click", function () { setMode(false); });
  $("view-3d").addEventListener("click", function () { setMode(true); });
  $("time-slider").addEventListener("input", onSlider);
  $("time-now").addEventListener("click", function () { $("time-slider").value = "0"; onSlider(); });
  $("area-close").addEventListener("click", closeArea);
  document.addEventListener("keydown", function (e) {
    // Escape in an open dialog closes the dialog (the browser does that), not the area panel behind it.
    if (e.key === "Escape" && state.selected && !document.querySelector("dialog[open]")) { closeArea(); }
  });
  $("map").dataset.mode = "2d";
  initMap();
  Promise.all([
    api("crowd-levels/").then(function (bands) { state.bands = bands; }),
    loadAreas(true)
  ]).then(function () {
    render(true);
    $("dashboard").dataset.ready = "true";
    return loadActions();
  });
  loadAlerts();
  Promise.all([loadBuildings(), loadLayers(true)]).then(function () { $("map").dataset.layersReady = "true"; });
  var ticks = 0;
  window.setInterval(function () {
    ticks += 1;
    loadAreas(false);
    loadAlerts();
    loadActions();
    loadLayers(ticks % 4 === 0);  // the weather changes slowly: every fourth refresh
  }, cfg.refreshSeconds * 1000);
})();
