/* Crowd Safety Manager: the operator dashboard (the entry module, loaded by dashboard.html). A MapLibre
   map of the tenant's areas coloured (and patterned, and labelled) by crowd level, 2D or 3D, refreshed
   every 15 s; a time slider from 24 h back to 48 h ahead; an area panel with a chart, the model and the
   sources; the open alerts and the action log. Everything comes from the tenant API with the session
   cookie (and the CSRF token for writes). This module only wires the parts together. */
import { initActionDialog, loadActions, openActionDialog } from "./action-log.js";
import { loadAreas, loadBands, loadSharedAreas } from "./area-data.js";
import { closeArea, renderPanelSummary } from "./area-panel.js";
import { loadAlerts } from "./alerts.js";
import { cfg } from "./config.js";
import { $ } from "./dom.js";
import { initIncidentDialog, openIncidentDialog } from "./incident-dialog.js";
import { startLiveUpdates } from "./live-updates.js";
import { initMap, renderAreasOnMap, renderSharedOnMap, setMode } from "./map.js";
import { initLayerToggles, loadBuildings, loadLayers } from "./map-layers.js";
import { onRender, render, state } from "./state.js";
import { renderAreaList, renderSharedList } from "./status-list.js";
import { initTimeSlider } from "./time-slider.js";

// render() draws these in this order: the map, the list of areas, the open area's summary, and the areas
// other organisations share with this one (on the map and in the list).
onRender(renderAreasOnMap);
onRender(renderAreaList);
onRender(renderPanelSummary);
onRender(renderSharedOnMap);
onRender(renderSharedList);

initLayerToggles();

if (cfg.mayLogActions) {
  initActionDialog();
  initIncidentDialog();
  document.querySelectorAll("dialog [data-close]").forEach((button) => {
    button.addEventListener("click", () => button.closest("dialog").close());
  });
  $("area-log-action").addEventListener("click", () => {
    if (state.selected) { openActionDialog({ area: state.selected }); }
  });
  $("area-report-incident").addEventListener("click", () => {
    if (state.selected) { openIncidentDialog(state.selected); }
  });
}

$("view-2d").addEventListener("click", () => setMode(false));
$("view-3d").addEventListener("click", () => setMode(true));
initTimeSlider();
$("area-close").addEventListener("click", closeArea);
document.addEventListener("keydown", (e) => {
  // Escape in an open dialog closes the dialog (the browser does that), not the area panel behind it.
  if (e.key === "Escape" && state.selected && !document.querySelector("dialog[open]")) { closeArea(); }
});

$("map").dataset.mode = "2d";
initMap();
Promise.all([loadBands(), loadAreas(true), loadSharedAreas()]).then(() => {
  render(true);
  $("dashboard").dataset.ready = "true";
  return loadActions();
});
loadAlerts();
Promise.all([loadBuildings(), loadLayers(true)]).then(() => { $("map").dataset.layersReady = "true"; });
startLiveUpdates();
