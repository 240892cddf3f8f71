/* Crowd Safety Manager: a joint operation's own dashboard (the entry module, loaded by operation.html).
   For a tenant that joined: the common picture on a map and per organisation, the alerts in the
   operation's areas and the common action log, fetched again every cfg.refreshSeconds like the dashboard;
   duty and the own organisation's part. A tenant that is only invited sees the invitation. */
import { loadAlerts } from "./alerts.js";
import { $, cfg } from "./config.js";
import { initLogForm, loadLog } from "./log.js";
import { initManage } from "./manage.js";
import { createPictureMap } from "./picture-map.js";
import { loadPicture } from "./picture.js";
import { bindRespondForms } from "./steps.js";

bindRespondForms();
if (cfg.myState === "joined") {
  const map = createPictureMap($("map"), { tileUrl: cfg.tileUrl });
  // One request after the other: each read of what others share is written to the audit trails, and the
  // log names areas by slug, whose names come with the picture. A refresh still running skips a turn.
  let busy = true;
  const refresh = () => loadPicture(map).then(loadAlerts).then(loadLog);
  refresh()
    .then(() => initLogForm())
    .then(() => initManage({ onChange: () => loadPicture(map) }))
    .then(() => { busy = false; $("operation").dataset.ready = "true"; });
  window.setInterval(() => {
    if (busy) { return; }
    busy = true;
    refresh().then(() => { busy = false; });
  }, cfg.refreshSeconds * 1000);
} else {
  $("operation").dataset.ready = "true";
}
