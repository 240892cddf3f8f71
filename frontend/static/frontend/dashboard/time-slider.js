/* The time slider: 24 hours back (observed) to 48 hours ahead (forecast), 0 is the live view. */
import { loadAllForecasts, loadHistory } from "./area-data.js";
import { HOUR, S, hourStart, timeFmt } from "./config.js";
import { $ } from "./dom.js";
import { render, state } from "./state.js";

function onSlider() {
  const offset = parseInt($("time-slider").value, 10);
  state.offset = offset;
  const target = hourStart(Date.now()) + offset * HOUR;
  const label = offset === 0 ? S.now : `${timeFmt.format(new Date(target))} (${offset > 0 ? "+" : ""}${offset} h)`;
  $("time-label").textContent = offset === 0 ? label : `${offset < 0 ? S.observed : S.forecast} · ${label}`;
  $("time-mode").textContent = offset === 0 ? S.live_view : `${offset < 0 ? S.past_view : S.future_view} ${label}`;
  $("dashboard").dataset.offset = String(offset);
  let loading = Promise.resolve();
  if (offset < 0 && (!state.history || state.historyHour !== hourStart(Date.now()))) { loading = loadHistory(); }
  if (offset > 0) { loading = loadAllForecasts(); }
  loading.then(() => render(false)).catch(() => {
    $("time-mode").textContent = S.load_error;
  });
}

export function initTimeSlider() {
  $("time-slider").addEventListener("input", onSlider);
  $("time-now").addEventListener("click", () => { $("time-slider").value = "0"; onSlider(); });
}
