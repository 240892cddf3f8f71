"""The demo's passer-by area in a real browser: the beach stairs at the Kurhaus are counted by a 5 m
counting line, so the time slider's past hours show a flow in people/min per metre with its Fruin level,
never a people count or a density, and the area's chart is drawn in flow units against the flow bands.

The clock is frozen (time-machine on the server, Playwright's clock in the page) on a fixed date, 10
minutes into an hour, so the slider's hours are whole and the same on every run; the demo's scenario
clock puts its sunny Sunday afternoon at that moment. The values expected on screen are computed here
from the seeded observations: each direction's hourly mean rate, summed, over the line's width.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.models import Avg
from django_scopes import scopes_disabled

from areas.demo_counts import STAIRS, STAIRS_WIDTH_M
from areas.models import Area
from areas.selectors import crowd_level_settings_get
from sources.models import Observation, Series
from tests.frontend.test_browser import (  # noqa: F401 (browser and demo are fixtures)
    Session,
    browser,
    demo,
    pytestmark,
    wait_for,
    wait_for_dashboard,
)

FROZEN = datetime(2027, 8, 15, 12, 10, tzinfo=UTC)  # 14:10 in The Hague; any date would do
OFFSETS = (-1, -3, -14)  # the sunny afternoon's stream back up the stairs, and the night before
FLOW = "people/min per metre"  # the dashboard's unit of a flow (frontend/views.py DASHBOARD_STRINGS)
LEVEL_WORDS = {
    "quiet": "quiet",
    "busy": "busy",
    "very_busy": "very busy",
    "crowded": "crowded",
    "critical": "critical",
}
NUMBER = r"(\d+(?:\.\d+)?)"


@pytest.fixture
def frozen_clock():
    with time_machine.travel(FROZEN, tick=True):
        yield


@pytest.fixture
def own_var_dir(settings, tmp_path):
    """The demo's replay files in a folder of this test's own, apart from other runs in the shared VAR_DIR."""
    settings.VAR_DIR = tmp_path


@pytest.fixture
def flow_demo(frozen_clock, own_var_dir, demo):  # noqa: F811
    """The demo seeded by test_browser's fixture, on the frozen clock (requested first, so set up first)."""
    return demo


def expected_flow(hour: datetime) -> tuple[float, str]:
    """(flow in persons/min/m, level) of the stairs in the hour from ``hour``: the busiest (here the only)
    counting line's directions, each averaged over the hour, summed and divided by the line's width; the
    level is the highest Fruin band the flow reaches."""
    with scopes_disabled():
        area = Area.objects.get(tenant__slug="den-haag", slug=STAIRS)
        series = list(Series.objects.filter(area=area, metric="people_passing"))
        assert len(series) == 2 and all(s.line_width_m == STAIRS_WIDTH_M for s in series)  # down and up
        means = [
            Observation.objects.filter(
                series=s, time__gte=hour, time__lt=hour + timedelta(hours=1)
            ).aggregate(mean=Avg("value"))["mean"]
            for s in series
        ]
        assert None not in means, f"no counts on the stairs in the hour from {hour}"
        bands = area.effective_flow_bands(crowd_level_settings_get(tenant=area.tenant))
    flow = sum(means) / STAIRS_WIDTH_M
    level = "quiet"
    for key in ("busy", "very_busy", "crowded", "critical"):
        if flow >= bands[key]:
            level = key
    return flow, level


def shown_flow(text: str) -> float:
    match = re.search(NUMBER + " " + re.escape(FLOW), text)
    assert match, f"no flow in {FLOW} in {text!r}"
    return float(match.group(1))


def assert_no_people_or_density(text: str):
    assert not re.search(r"\bpeople\b(?!/min per metre)", text), f"a people count in {text!r}"
    assert "p/m²" not in text and "%" not in text and "capacity" not in text, text


def test_flow_area_time_slider(browser, flow_demo):  # noqa: F811
    now = datetime.now(UTC)  # the frozen clock, a little further on
    assert now.replace(minute=0, second=0, microsecond=0) == FROZEN.replace(minute=0)
    op = Session(browser, flow_demo.url)
    page = op.page
    page.clock.install(time=now)  # the page's clock runs from the server's moment, not today's
    op.login("den-haag-operator")
    wait_for_dashboard(page, 8)
    assert page.evaluate("new Date().getUTCFullYear()") == FROZEN.year
    item = page.locator(f"#area-list .area-item[data-slug={STAIRS}]")
    marker = page.locator(f".area-marker[data-slug={STAIRS}]")
    assert "Beach stairs at the Kurhaus" in item.inner_text()

    page.click(f"#area-list .area-item[data-slug={STAIRS}]")
    page.wait_for_selector("#area-panel:not([hidden]) #area-chart svg")
    assert page.inner_text("#area-title") == "Beach stairs at the Kurhaus"
    live = page.inner_text("#area-summary")
    shown_flow(live)  # the live picture is a flow too
    assert_no_people_or_density(live)

    hour_now = now.replace(minute=0, second=0, microsecond=0)
    levels = set()
    for offset in OFFSETS:
        hour = hour_now + timedelta(hours=offset)
        flow, level = expected_flow(hour)
        levels.add(level)
        page.locator("#time-slider").fill(str(offset))
        wait_for(page, f"document.getElementById('dashboard').dataset.offset === '{offset}'")
        wait_for(page, f"document.getElementById('time-mode').textContent.includes('({offset} h)')")
        assert "Showing observed levels of" in page.inner_text("#time-mode")
        word = LEVEL_WORDS[level]
        # The area panel's summary: the level of that hour, its flow and how the level was found.
        summary = page.locator("#area-summary")
        wait_for(page, f"document.getElementById('area-summary').classList.contains('lvl-{level}')")
        text = summary.inner_text()
        assert text.startswith(f"{word} · "), (offset, text)
        assert shown_flow(text) == pytest.approx(flow, abs=0.05 + 1e-9), (offset, text)
        assert "Fruin" in text
        assert_no_people_or_density(text)
        # The list beside the map and the map's marker say the same, in words and figures.
        listed = item.inner_text()
        assert item.locator(".badge").inner_text() == word and f"lvl-{level}" in item.locator(
            ".badge"
        ).get_attribute("class")
        assert shown_flow(listed) == pytest.approx(flow, abs=0.05 + 1e-9)
        assert_no_people_or_density(listed)
        label = marker.get_attribute("aria-label")
        assert label.startswith(f"Beach stairs at the Kurhaus: {word} · ")
        assert shown_flow(label) == pytest.approx(flow, abs=0.05 + 1e-9)
        assert_no_people_or_density(label)
        assert marker.locator(".marker-level").inner_text() == word
        op.shot(f"dashboard-flow-{-offset}h-ago")
    assert len(levels) >= 2 and levels != {"quiet"}, levels  # Fruin levels, not one constant word

    # The chart: titled (and captioned) in flow units, its thresholds at the flow bands, the observed line at those flows.
    chart = page.locator("#area-chart svg")
    assert FLOW in chart.get_attribute("aria-label")
    assert FLOW in page.inner_text("#chart-caption")
    assert_no_people_or_density(page.inner_text("#chart-caption"))
    geometry = page.evaluate(
        """() => {
            const svg = document.querySelector('#area-chart svg');
            const grid = [...svg.querySelectorAll('line.grid')].filter((l) => l.getAttribute('x1') !== l.getAttribute('x2'));
            const ticks = [...svg.querySelectorAll('text.tick')].filter((t) => t.getAttribute('text-anchor') === 'end');
            return {
                ys: grid.map((l) => parseFloat(l.getAttribute('y1'))),
                ticks: ticks.map((t) => parseFloat(t.textContent.replace(/[^0-9.]/g, ''))),
                thresholds: [...svg.querySelectorAll('line.threshold')].map((l) => ({
                    level: [...l.classList].find((c) => c.startsWith('lvl-line-')).slice(9),
                    y: parseFloat(l.getAttribute('y1')),
                })),
                observed: (svg.querySelector('polyline.observed') || {getAttribute: () => ''})
                    .getAttribute('points').trim().split(/\\s+/).filter(Boolean)
                    .map((p) => p.split(',').map(Number)),
            };
        }"""
    )
    y_zero, y_top = max(geometry["ys"]), min(geometry["ys"])
    y_max = max(geometry["ticks"])

    def value_at(y):
        return (y_zero - y) / (y_zero - y_top) * y_max

    with scopes_disabled():
        area = Area.objects.get(tenant__slug="den-haag", slug=STAIRS)
        bands = area.effective_flow_bands(crowd_level_settings_get(tenant=area.tenant))
    assert geometry["thresholds"], "no level thresholds on the chart"
    for threshold in geometry["thresholds"]:
        assert value_at(threshold["y"]) == pytest.approx(bands[threshold["level"]], abs=0.01 * y_max)
    # The observed line: one point per past whole hour, the highest at the busiest hour's flow.
    flows = [
        expected_flow(hour_now - timedelta(hours=h))[0] for h in range(1, 26)
    ]  # the 25 hours the slider loads
    assert len(geometry["observed"]) == len(flows)
    assert max(value_at(y) for _x, y in geometry["observed"]) == pytest.approx(max(flows), abs=0.01 * y_max)
    op.shot("dashboard-flow-chart")

    # Ahead: the stored forecast of the stairs is a flow, and the slider shows its median as one.
    with scopes_disabled():
        forecast = area.forecasts.order_by("-issued_at", "-pk").first()
    assert forecast.quantity == "flow" and forecast.trust.get("ok", True)
    assert page.locator("#area-chart .median").count() == 1
    ahead = hour_now + timedelta(hours=2)
    point = next(p for p in forecast.points if datetime.fromisoformat(p["time"]) == ahead)
    page.locator("#time-slider").fill("2")
    wait_for(page, "document.getElementById('time-mode').textContent.includes('(+2 h)')")
    wait_for(
        page, f"document.getElementById('area-summary').textContent.includes('{point['p50']:.1f} people/min')"
    )
    text = page.inner_text("#area-summary")
    assert text.startswith(f"{LEVEL_WORDS[point['level']]} · "), text
    assert shown_flow(text) == pytest.approx(point["p50"], abs=0.05 + 1e-9), text
    assert_no_people_or_density(text)
    assert_no_people_or_density(item.inner_text())
    op.shot("dashboard-flow-forecast")

    page.click("#time-now")
    wait_for(page, "document.getElementById('dashboard').dataset.offset === '0'")
    assert_no_people_or_density(page.inner_text("#area-summary"))
    op.close()
