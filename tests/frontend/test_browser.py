"""The pages in a real browser (Playwright driving Debian's Chromium) on the demo data.

One walk-through per seeded database: seeding the demo takes seconds and the live server's database is
flushed after each test, so the steps share one test and each step saves a screenshot under
var/test-artifacts/. Any browser console error fails the test.
"""

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from areas.models import AreaForecast
from incidents.models import Alert
from sharing.models import SharingAgreement
from tenants.mfa import current_code
from tenants.models import Tenant
from tests.factories import (
    PASSWORD,
    make_agreement,
    make_alert,
    make_area,
    make_operation,
    make_series,
    member,
    otp_code,
    square,
)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the live server's ORM calls run in their own.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-unsafe-swiftshader",  # software WebGL for the map without a GPU
            ],
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Session:
    """A browser context with its page and the console errors it collected."""

    def __init__(self, browser, base_url, *, width=1366, height=768):
        self.context = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def login(self, username, password=None):
        """Log in with the password (the demo users' one unless given) and, when asked, the current code."""
        self.page.goto("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password or "demo")
        self.page.click("main button[type=submit]")
        self.page.wait_for_load_state()
        if "/accounts/otp/verify/" in self.page.url:
            # Second step for users with an authenticator (the demo admins): the code of the demo secret,
            # as `manage.py demo_otp <username>` prints it.
            self.page.fill("#id_code", demo_code(username))
            self.page.click("main button[type=submit]")
            self.page.wait_for_load_state()

    def shot(self, name):
        self.page.screenshot(
            path=str(ARTIFACTS / f"{name}.png"), full_page=name.startswith(("public", "reg"))
        )
        assert self.errors == [], f"browser console errors on {name}: {self.errors}"

    def close(self):
        self.context.close()


def demo_code(username: str) -> str:
    """The current code of a demo user's authenticator (seed_demo gives admins the documented secret)."""
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    return current_code(device)


@pytest.fixture
def demo(live_server, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    tenant = Tenant.objects.get(slug="den-haag")
    make_alert(tenant, message="Crowding at the pier entrance (browser test)")
    return live_server


def wait_for(page, expression: str, timeout: float = 10.0):
    """Wait until a JavaScript expression is truthy in the page.

    Playwright's wait_for_function compiles its predicate with eval inside the page, which the Content
    Security Policy (no 'unsafe-eval') rightly refuses; page.evaluate goes through the DevTools protocol.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def wait_for_dashboard(page, markers):
    page.wait_for_selector("#dashboard[data-ready=true]")
    wait_for(page, f"document.querySelectorAll('.area-marker').length >= {markers}")
    wait_for(page, "window.maplibregl && document.querySelector('#map canvas')")


def test_demo_walkthrough(browser, demo):
    # An operator of The Hague: the map, 3D, an area panel, the time slider and an alert acknowledged.
    op = Session(browser, demo.url)
    op.login("den-haag-operator")
    page = op.page
    assert page.url.endswith("/t/den-haag/")
    wait_for_dashboard(page, 8)
    markers = page.locator(".area-marker").all_inner_texts()
    assert any("Boulevard" in text for text in markers)
    assert page.locator("#area-list .area-item").count() == len(markers)
    # Map layers from the located demo series: the Kurhaus garage and tram stop, and the weather summary.
    page.wait_for_selector("#map[data-layers-ready=true]")
    garage = page.locator(".poi-marker.poi-parking")
    assert garage.count() == 1 and "/ 400" in garage.inner_text()
    assert page.locator(".poi-marker.poi-transit").count() == 1
    assert "Parkeergarage Kurhaus" in page.inner_text("#poi-list")
    page.wait_for_selector("#weather-box:not([hidden]) dd[data-metric=temperature]")
    assert "°C" in page.inner_text("#weather-box") and "m/s" in page.inner_text("#weather-box")
    op.shot("dashboard-2d")

    page.click("#view-3d")
    assert page.get_attribute("#view-3d", "aria-pressed") == "true"
    assert page.get_attribute("#map", "data-mode") == "3d"
    page.wait_for_selector("#map[data-buildings='6']")  # the demo's buildings around the Kurhaus
    wait_for(page, "document.querySelector('#map canvas') !== null")
    page.wait_for_timeout(700)  # the camera tilts
    op.shot("dashboard-3d")
    page.click("#poi-list .poi-item[data-kind=parking]")  # the list flies the map to the garage
    page.wait_for_timeout(700)
    op.shot("dashboard-3d-kurhaus")
    # Layer toggles work from the keyboard: Space on a focused checkbox.
    page.focus("#layer-buildings")
    page.keyboard.press("Space")
    page.wait_for_selector("#map[data-buildings='0']")
    page.focus("#layer-parking")
    page.keyboard.press("Space")
    assert garage.is_hidden() and "Parkeergarage" not in page.inner_text("#poi-list")
    page.click("#layer-weather")
    assert page.locator("#weather-box").is_hidden()
    op.shot("dashboard-3d-layers-off")
    for toggle in ("#layer-buildings", "#layer-parking", "#layer-weather"):
        page.check(toggle)
    page.wait_for_selector("#map[data-buildings='6']")
    page.click("#view-2d")
    assert page.get_attribute("#map", "data-buildings") == "0"  # blocks only in 3D

    # The pier's forecast with its record on the holdout; the Kurhaus square's stored as not trustworthy.
    with scopes_disabled():
        forecasts = AreaForecast.objects.filter(tenant__slug="den-haag").order_by("-issued_at", "-pk")
        pier = forecasts.filter(area__slug="de-pier").first()
        pier.record = {
            "horizon": 3,
            "hours": 640,
            "days": 28.0,
            "within": 43.7,
            "mae": 25.0,
            "coverage_80": 0.8,
        }
        pier.save(update_fields=["record"])
        square = forecasts.filter(area__slug="kurhausplein").first()
        square.trust = {
            "ok": False,
            "reason": "stuck_counts",
            "since": square.issued_at.isoformat(),
            "hours": 6,
        }
        square.save(update_fields=["trust"])

    page.click("#area-list .area-item[data-slug=kurhausplein]")
    page.wait_for_selector("#area-forecast-note.warning:not([hidden])")
    assert "6" in page.inner_text("#area-forecast-note")
    assert page.locator("#area-chart .median").count() == 0  # no forecast line drawn
    assert page.locator("#area-chart .threshold").count() >= 1  # the observed past and thresholds still are

    page.click("#area-list .area-item[data-slug=de-pier]")
    page.wait_for_selector("#area-panel:not([hidden]) #area-chart svg")
    assert page.inner_text("#area-title") == "De Pier"
    page.wait_for_selector("#area-sources li")
    assert page.locator("#area-chart .threshold").count() >= 1
    page.wait_for_selector("#area-forecast-note:not(.warning):not([hidden])")
    assert "±44" in page.inner_text("#area-forecast-note")  # 43.7 people, in two figures
    assert page.locator("#area-chart .median").count() == 1
    op.shot("dashboard-panel")

    # Report an incident from the area panel.
    page.click("#area-report-incident")
    page.wait_for_selector("#incident-dialog[open]")
    assert page.input_value("#incident-area") == "de-pier"
    page.select_option("#incident-kind", "blocked_exit")
    page.fill("#incident-description", "Exit blocked by a food truck (browser test)")
    page.click("#incident-save")
    page.wait_for_selector("#area-feedback:has-text('Incident reported.')")

    page.locator("#time-slider").fill("-3")
    wait_for(page, "document.getElementById('dashboard').dataset.offset === '-3'")
    page.locator("#time-slider").fill("6")
    wait_for(page, "document.getElementById('time-mode').textContent.includes('+6 h')")
    wait_for(page, "document.querySelectorAll('.area-marker.lvl-none').length < 8")
    op.shot("dashboard-forecast")
    page.click("#time-now")

    alert = page.locator("#alerts li", has_text="browser test")
    alert.locator("button.ack").click()
    wait_for(
        page,
        "[...document.querySelectorAll('#alerts li')].some(li => li.textContent.includes('browser test') "
        "&& li.classList.contains('alert-acknowledged'))",
    )
    op.shot("dashboard-acknowledged")

    # Log an action in answer to the alert (seeing what worked before), find it in the log and end it.
    alert.locator("button.log-action").click()
    page.wait_for_selector("#action-dialog[open] #action-similar:not([hidden]) .similar-row")
    assert "Traffic controllers" in page.inner_text("#similar-list")
    page.click("#action-save")  # nothing chosen yet: the API's problem document shows next to the fields
    page.wait_for_selector("#action-form .form-errors:not([hidden])")
    assert page.locator("#action-form .field-error").count() >= 1
    # Chromium logs the deliberate 400 as a console error: expect exactly that one, then carry on strictly.
    assert op.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    op.errors.clear()
    page.select_option("#action-intervention", "traffic-controllers")
    page.fill("#action-description", "Two traffic controllers at the pier entrance (browser test)")
    page.check("#action-areas input[value=de-pier]")
    op.shot("dashboard-log-action")
    page.click("#action-save")
    entry = page.locator("#actions li", has_text="browser test")
    entry.wait_for()
    assert "active" in entry.inner_text() and "De Pier" in entry.inner_text()
    entry.locator("button.end-action").click()
    page.wait_for_selector("#actions li.action-ended:has-text('browser test')")
    op.shot("dashboard-action-ended")

    page.click("nav.switcher >> text=Sources")
    page.wait_for_selector("[data-testid=source-health] tbody tr")
    assert "Counting cameras Scheveningen" in page.inner_text("[data-testid=source-health]")
    op.shot("sources")
    page.click(".lang-switch button[value=nl]")
    page.wait_for_selector("h1:has-text('Status van de bronnen')")
    op.shot("sources-nl")
    op.close()

    # An admin cannot get past the password alone: every page leads to the code step.
    admin = Session(browser, demo.url)
    admin.page.goto("/accounts/login/?next=/t/den-haag/")
    admin.page.fill("#id_username", "den-haag-admin")
    admin.page.fill("#id_password", "demo")
    admin.page.click("main button[type=submit]")
    admin.page.wait_for_selector("#id_code")
    assert "/accounts/otp/verify/" in admin.page.url
    admin.page.goto("/t/den-haag/settings/")
    assert "/accounts/otp/verify/" in admin.page.url
    admin.shot("otp-verify")
    admin.page.fill("#id_code", demo_code("den-haag-admin"))
    admin.page.click("main button[type=submit]")
    admin.page.wait_for_load_state()
    assert admin.page.url.endswith("/t/den-haag/settings/")
    admin.page.goto("/accounts/security/")
    assert admin.page.locator("[data-testid=mfa-status]").inner_text().startswith("On")
    admin.shot("account-security")
    admin.page.goto("/accounts/otp/setup/?next=/accounts/security/")  # a QR code drawn on the server
    assert admin.page.locator("img.otp-qr").evaluate("img => img.complete && img.naturalWidth > 0")
    admin.shot("otp-setup")
    admin.page.goto("/api/v1/docs/")  # Swagger UI under its own, documented policy
    admin.page.wait_for_selector(".swagger-ui .opblock")
    admin.shot("api-docs")

    # The admin switches the public page on through the API, with the session and the CSRF token.
    admin.page.goto("/t/den-haag/")
    wait_for_dashboard(admin.page, 8)
    result = admin.page.evaluate(
        """async () => {
            const response = await fetch('/api/v1/tenants/den-haag/', {
                method: 'PATCH', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json',
                          'X-CSRFToken': document.getElementById('csrf-token').value},
                body: JSON.stringify({public_page_enabled: true, map_tile_url: ''}),
            });
            return {status: response.status, body: await response.json()};
        }"""
    )
    assert result["status"] == 200, json.dumps(result)
    assert result["body"]["public_page_enabled"] is True and result["body"]["map_tile_url"] == ""
    admin.shot("admin-dashboard")

    # Onboarding: import an area from a GeoJSON file (dry run first), then add a source through the form
    # generated from its connector's JSON Schema, testing the connection before saving.
    apage = admin.page
    apage.click("nav.switcher >> text=Settings")
    apage.click(".settings-nav >> text=Areas")
    apage.wait_for_selector("#area-table tbody tr[data-slug=de-pier]")
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "slug": "beach-entrance",
                    "name": "Beach entrance",
                    "capacity": 400,
                    "colour": "red",
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [4.2700, 52.1090],
                            [4.2712, 52.1090],
                            [4.2712, 52.1097],
                            [4.2700, 52.1097],
                            [4.2700, 52.1090],
                        ]
                    ],
                },
            }
        ],
    }
    apage.set_input_files(
        "#import-file",
        files=[
            {
                "name": "areas.geojson",
                "mimeType": "application/geo+json",
                "buffer": json.dumps(collection).encode(),
            }
        ],
    )
    apage.click("#import-preview")
    apage.wait_for_selector("#import-result tbody tr.row-created")
    assert "will be created" in apage.inner_text("#import-result") and "colour" in apage.inner_text(
        "#import-result"
    )
    assert (
        apage.locator("#area-table tbody tr[data-slug=beach-entrance]").count() == 0
    )  # a dry run stores nothing
    admin.shot("settings-areas-preview")
    apage.click("#import-run")
    apage.wait_for_selector("#area-table tbody tr[data-slug=beach-entrance]")
    admin.shot("settings-areas-imported")

    # Building footprints for the 3D map: the demo's six are listed; an upload replaces them.
    apage.wait_for_selector("#buildings-current:has-text('Buildings on the 3D map: 6,')")
    footprints = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"hoogte": 18},
                "geometry": collection["features"][0]["geometry"],
            }
        ],
    }
    apage.set_input_files(
        "#buildings-file",
        files=[
            {
                "name": "panden.geojson",
                "mimeType": "application/geo+json",
                "buffer": json.dumps(footprints).encode(),
            }
        ],
    )
    apage.click("#buildings-upload")
    apage.wait_for_selector("#buildings-form .form-status:has-text('hoogte (1)')")
    apage.wait_for_selector("#buildings-current:has-text('Buildings on the 3D map: 1,')")
    admin.shot("settings-buildings-uploaded")

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=7)
    rows = [f"rehearsal-cam,{(start + timedelta(hours=h)).isoformat()},{100 + h}" for h in range(24 * 7)]
    replay_dir = Path(settings.VAR_DIR) / "replay"
    replay_dir.mkdir(parents=True, exist_ok=True)
    replay_file = replay_dir / "browser-test.csv"
    replay_file.write_text("series,time,value\n" + "\n".join(rows) + "\n")
    try:
        apage.click(".settings-nav >> text=Sources")
        apage.wait_for_selector("#source-form[data-ready=true]")
        apage.select_option("#source-kind", "replay")
        apage.fill("#config-file", "no-such-file.csv")
        apage.click("#source-test")
        apage.wait_for_selector("#test-result:not([hidden]) .error")
        apage.fill("#config-file", "browser-test.csv")
        apage.fill("#config-backfill_hours", "3")
        apage.fill("#source-name", "Rehearsal cameras")
        apage.click("#source-test")
        apage.wait_for_selector("#test-result:not([hidden]) .ok")
        assert "rehearsal-cam" in apage.inner_text("#test-result")
        admin.shot("settings-source-test")
        apage.click("#source-save")
        apage.wait_for_selector("#source-table th:has-text('Rehearsal cameras')")
        admin.shot("settings-source-saved")
    finally:
        replay_file.unlink()
    admin.close()

    # A visitor on a phone, not logged in: levels in words, no counts; then the register.
    visitor = Session(browser, demo.url, width=390, height=844)
    response = visitor.page.goto("/p/den-haag/")
    assert response.status == 200
    assert "max-age=60" in response.headers["cache-control"]
    cards = visitor.page.locator(".public-area")
    assert cards.count() == 10  # the nine demo areas and the beach entrance imported above
    assert visitor.page.locator(".public-area .level-now").count() == 10
    visitor.shot("public")
    visitor.page.click("text=Register of sensors and algorithms")
    visitor.page.wait_for_selector("[data-testid=register-source]")
    register = visitor.page.inner_text("main")
    assert "Counting cameras Scheveningen" in register and "365 days" in register
    assert visitor.page.locator("[data-testid=register-algorithm]").count() == 3
    visitor.shot("register")
    visitor.page.click("text=Nederlands")
    visitor.page.wait_for_selector("h1:has-text('Register van sensoren en algoritmen')")
    visitor.close()

    # An event organiser sees only the zones of its own event, and no other tenant.
    organiser = Session(browser, demo.url)
    organiser.login("koningsdag-events-organiser")
    assert organiser.page.url.endswith("/t/koningsdag-events/")
    wait_for_dashboard(organiser.page, 4)
    assert organiser.page.locator(".area-marker").count() == 4
    organiser.shot("organiser")
    assert organiser.page.goto("/t/den-haag/").status == 404
    organiser.close()


@pytest.fixture
def sharing_partners(live_server, settings, tenant_a, tenant_b):
    """Two organisations with an admin each (and their authenticators) and one area each; no demo data."""
    settings.DEBUG = True
    make_area(tenant_a, slug="harbour", name="Harbour square")
    make_area(tenant_b, slug="station", name="Station forecourt", geometry=square(lon=4.3200, lat=52.0800))
    admins = {tenant.slug: member(tenant, "admin") for tenant in (tenant_a, tenant_b)}
    for user in admins.values():
        otp_code(user)  # a confirmed authenticator, so that the log-in asks for (and gets) its code
    return live_server, admins


def test_sharing_walkthrough(browser, sharing_partners, tenant_a, tenant_b):
    # A's admin offers B the harbour through the form: first without a purpose (the field error shows).
    server, admins = sharing_partners
    a = Session(browser, server.url)
    a.login(admins["tenant-a"].username, PASSWORD)
    apage = a.page
    apage.goto("/t/tenant-a/settings/sharing/")
    apage.wait_for_selector("#offer-form[data-ready=true] #offer-areas input[value=harbour]")
    apage.fill("#offer-recipient", "tenant-b")
    apage.check("#offer-areas input[value=harbour]")
    assert apage.is_checked("#offer-kinds input[value=status]")  # the crowd picture, by default
    apage.check("#offer-kinds input[value=alerts]")
    # Until a month from now at 14:37 on A's clock, whatever the browser's own time zone.
    zone = ZoneInfo(tenant_a.time_zone)
    until = (datetime.now(zone) + timedelta(days=30)).replace(hour=14, minute=37, second=0, microsecond=0)
    apage.fill("#offer-to", until.strftime("%Y-%m-%dT%H:%M"))
    apage.click("#offer-save")
    apage.wait_for_selector("#offer-form .field:has(#offer-purpose) .field-error")
    assert a.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    a.errors.clear()
    apage.fill("#offer-purpose", "Joint King's Day (browser test)")
    apage.click("#offer-save")
    offered = apage.locator("#offered-table tr[data-partner=tenant-b]")
    offered.wait_for()
    assert offered.get_attribute("data-status") == "offered"
    assert "Gemeente B" in offered.inner_text() and "Harbour square" in offered.inner_text()
    assert "14:37" in offered.inner_text()
    with scopes_disabled():
        agreement = SharingAgreement.objects.get(provider=tenant_a, recipient=tenant_b)
    assert agreement.valid_to == until and agreement.kinds == ["status", "alerts"]
    assert apage.locator("#offer-form .field-error").count() == 0
    a.shot("settings-sharing-offered")

    # B's admin accepts it on B's sharing page.
    b = Session(browser, server.url)
    b.login(admins["tenant-b"].username, PASSWORD)
    bpage = b.page
    bpage.goto("/t/tenant-b/settings/sharing/")
    received = bpage.locator("#received-table tr[data-partner=tenant-a]")
    received.wait_for()
    assert received.get_attribute("data-status") == "offered" and "Gemeente A" in received.inner_text()
    received.locator("button.accept").click()
    bpage.wait_for_selector("#received-table tr[data-partner=tenant-a][data-status=active] button.end")
    b.shot("settings-sharing-accepted")

    # B's dashboard: A's harbour as a shared, read-only area named after A, and A's alert there.
    with scopes_disabled():
        Alert.objects.create(
            tenant=tenant_a,
            kind="manual",
            area=agreement.areas.get(),
            message="Harbour gates closed (browser test)",
            opened_at=datetime.now(UTC),
        )
    bpage.goto("/t/tenant-b/")
    bpage.wait_for_selector("#dashboard[data-ready=true][data-shared-ready=true]")
    wait_for_dashboard(bpage, 1)
    marker = bpage.locator(".shared-marker")
    marker.wait_for()
    assert marker.count() == 1
    assert "Harbour square" in marker.inner_text() and "Shared by Gemeente A" in marker.inner_text()
    group = bpage.locator("#shared-areas .shared-group[data-owner=tenant-a]")
    assert "Gemeente A" in group.locator("h3").inner_text()
    assert group.locator(".shared-item").count() == 1
    assert bpage.locator("#area-list .area-item").count() == 1  # B's own station, apart from A's area
    shared_alert = bpage.locator("#alerts li.alert-shared")
    shared_alert.wait_for()
    assert "Harbour gates closed" in shared_alert.inner_text() and "Gemeente A" in shared_alert.inner_text()
    assert shared_alert.locator("button").count() == 0  # nothing to acknowledge or answer for A
    group.locator(".shared-item").click()
    bpage.wait_for_selector(".shared-popup:has-text('Shared by Gemeente A')")
    assert bpage.locator("#area-panel").is_hidden()  # no panel (and so no log or incident buttons)
    b.shot("dashboard-shared")

    # A failing shared request leaves the own picture working: nothing shared is shown, nothing breaks.
    bpage.route("**/shared/**", lambda route: route.fulfill(status=503, body="{}"))
    bpage.reload()
    bpage.wait_for_selector("#dashboard[data-ready=true][data-shared-ready=true]")
    wait_for_dashboard(bpage, 1)
    bpage.wait_for_selector("#alerts li")
    assert bpage.locator(".shared-marker").count() == 0 and bpage.locator("#shared-areas").is_hidden()
    assert bpage.locator("#area-list .area-item").count() == 1
    assert bpage.locator("#alerts li.error, #alerts li.alert-shared").count() == 0
    assert set(b.errors) == {
        "Failed to load resource: the server responded with a status of 503 (Service Unavailable)"
    }
    b.errors.clear()
    bpage.unroute("**/shared/**")

    # A ends it; B's dashboard, reloaded, shows nothing shared any more.
    apage.reload()
    row = apage.locator("#offered-table tr[data-partner=tenant-b][data-status=active]")
    row.wait_for()
    row.locator("button.end").click()
    row.locator("button.end").click()  # the second click confirms
    ended = apage.locator("#offered-table tr[data-partner=tenant-b][data-status=ended]")
    ended.wait_for()
    assert "ended by" in ended.inner_text()
    a.shot("settings-sharing-ended")
    a.close()

    bpage.reload()
    bpage.wait_for_selector("#dashboard[data-ready=true][data-shared-ready=true]")
    wait_for_dashboard(bpage, 1)
    assert bpage.locator(".shared-marker").count() == 0
    assert bpage.locator("#shared-areas").is_hidden()
    assert bpage.locator("#alerts li.alert-shared").count() == 0
    b.shot("dashboard-shared-ended")
    b.close()


@pytest.fixture
def joint_operation(live_server, settings, tenant_a, tenant_b):
    """A running, public operation led by A that B joined; each brings in one area with a fresh count and
    has an operator. No demo data."""
    settings.DEBUG = True
    now = datetime.now(UTC)
    harbour = make_area(tenant_a, slug="harbour", name="Harbour square", capacity=1000)
    station = make_area(
        tenant_b,
        slug="station",
        name="Station forecourt",
        capacity=1000,
        geometry=square(lon=4.32, lat=52.08),
    )
    make_series(tenant_a, key="cam-h", area=harbour, latest_value=820, latest_time=now)
    make_series(tenant_b, key="cam-s", area=station, latest_value=300, latest_time=now)
    operation = make_operation(tenant_a, tenant_b, slug="koningsdag", name="Koningsdag", public_page=True)
    for provider, area in ((tenant_a, harbour), (tenant_b, station)):
        make_agreement(
            provider, areas=[area], operation=operation, recipient=None, kinds=["status", "alerts"]
        )
    operators = {tenant.slug: member(tenant, "operator") for tenant in (tenant_a, tenant_b)}
    return live_server, operation, operators


def test_operation_walkthrough(browser, joint_operation):
    # B's operator opens the operation: both organisations' areas, and writes an entry in the common log.
    server, operation, operators = joint_operation
    b = Session(browser, server.url)
    b.login(operators["tenant-b"].username, PASSWORD)
    bpage = b.page
    bpage.goto(f"/t/tenant-b/operations/{operation.pk}/")
    bpage.wait_for_selector("#operation[data-ready=true] #map[data-markers='2']")
    status = bpage.locator("#op-status")
    assert "Harbour square" in status.locator(".op-group[data-owner=tenant-a]").inner_text()
    assert "Gemeente A" in status.inner_text() and "very busy" in status.inner_text()
    assert "Station forecourt" in status.locator(".op-group[data-owner=tenant-b]").inner_text()
    bpage.wait_for_selector("#log-form[data-ready=true] #log-areas input[value=station]")
    assert bpage.locator("#log-areas input").count() == 1  # only B's own areas
    bpage.select_option("#log-intervention", "traffic-controllers")
    bpage.fill("#log-description", "Stewards at the station exit (browser test)")
    bpage.check("#log-areas input[value=station]")
    bpage.click("#log-save")
    entry = bpage.locator("#op-log li[data-tenant=tenant-b]")
    entry.wait_for()
    assert "Stewards at the station exit" in entry.inner_text() and "Station forecourt" in entry.inner_text()
    b.shot("operation-other")
    b.close()

    # A's operator sees that entry attributed to B.
    a = Session(browser, server.url)
    a.login(operators["tenant-a"].username, PASSWORD)
    apage = a.page
    apage.goto("/t/tenant-a/operations/")
    apage.click(f"#operations-table tr[data-id='{operation.pk}'] a")
    apage.wait_for_selector("#operation[data-ready=true] #map[data-markers='2']")
    entry = apage.locator("#op-log li[data-tenant=tenant-b]")
    assert entry.count() == 1
    text = entry.inner_text()
    assert "Gemeente B" in text and "Traffic controllers" in text and "Stewards at the station exit" in text
    a.shot("operation-lead")
    a.close()

    # A visitor, not logged in: the public page with both areas' labels and owners, no counts.
    visitor = Session(browser, server.url, width=390, height=844)
    response = visitor.page.goto("/p/tenant-a/operations/koningsdag/")
    assert response.status == 200
    visitor.page.wait_for_selector("#public-map[data-markers='2']")
    cards = visitor.page.locator(".public-area")
    assert cards.count() == 2
    harbour = cards.filter(has_text="Harbour square").inner_text()
    station = cards.filter(has_text="Station forecourt").inner_text()
    assert "very busy" in harbour and "quiet" in station
    main = visitor.page.inner_text("main")
    assert "Gemeente A" in main and "Gemeente B" in main and "820" not in main and "Stewards" not in main
    visitor.shot("public-operation")
    visitor.close()
