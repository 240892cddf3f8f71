/* The dashboard's configuration (json_script "dashboard-config", built by frontend/views.py): the tenant
   API root, the role's rights, the translated strings and the tenant's clock. */
export const cfg = JSON.parse(document.getElementById("dashboard-config").textContent);
export const S = cfg.strings;
export const HOUR = 3600 * 1000;
/* The levels above "quiet", in order: each has a threshold. */
export const THRESHOLD_LEVELS = ["busy", "very_busy", "crowded", "critical"];

export const timeFmt = new Intl.DateTimeFormat(cfg.language, {
  timeZone: cfg.timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
});
export const shortFmt = new Intl.DateTimeFormat(cfg.language, {
  timeZone: cfg.timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23"
});

export const levelLabel = (level) => (level ? S[level] : S.no_data);
export const hourStart = (ms) => Math.floor(ms / HOUR) * HOUR;
