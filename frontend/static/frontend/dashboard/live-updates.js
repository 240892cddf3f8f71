/* The live picture: areas and alerts (the own ones and those other organisations share), the action log
   and the map layers are fetched again every cfg.refreshSeconds; the weather, which changes slowly, every
   fourth time. */
import { loadActions } from "./action-log.js";
import { loadAreas, loadSharedAreas } from "./area-data.js";
import { loadAlerts } from "./alerts.js";
import { cfg } from "./config.js";
import { loadLayers } from "./map-layers.js";

export function startLiveUpdates() {
  let ticks = 0;
  window.setInterval(() => {
    ticks += 1;
    loadAreas(false);
    loadSharedAreas();
    loadAlerts();
    loadActions();
    loadLayers(ticks % 4 === 0);
  }, cfg.refreshSeconds * 1000);
}
