"""Locust users of bench/loadtest.py (started by it; reads its set-up from CSM_LOADTEST_CONFIG).

- ``DashboardUser``: an operator's open dashboard. Every 15 s it reloads what the dashboard reloads for
  the map: the status of every area and the areas as GeoJSON. Each user has its own API token.
- ``PushUser``: a vendor's counting-camera gateway. Once a second it pushes one batch of new rows (50
  series x 20 one-second steps by default) to its own source with a token limited to that source.
"""

import itertools
import json
import os
import random
from datetime import datetime, timedelta

import gevent
from locust import FastHttpUser, constant_pacing, task

with open(os.environ["CSM_LOADTEST_CONFIG"]) as _file:
    CONFIG = json.load(_file)
_dashboard_tokens = itertools.cycle(CONFIG["dashboard_tokens"])
_pushers = itertools.cycle(CONFIG["pushers"])


class DashboardUser(FastHttpUser):
    fixed_count = CONFIG["dashboard_users"]
    wait_time = constant_pacing(CONFIG["refresh_seconds"])

    def on_start(self):
        self.headers = {"Authorization": f"Token {next(_dashboard_tokens)}"}
        self.base = f"/api/v1/tenants/{CONFIG['tenant']}"
        # Screens are opened at random moments, so their 15 s refreshes are spread out; without this,
        # locust's spawn batches would keep every 20 screens in lock-step, a burst no control room makes.
        gevent.sleep(random.uniform(0, CONFIG["refresh_seconds"]))

    @task
    def refresh(self):
        self.client.get(f"{self.base}/areas/status/", name="status", headers=self.headers)
        self.client.get(f"{self.base}/areas.geojson", name="areas.geojson", headers=self.headers)


class PushUser(FastHttpUser):
    fixed_count = len(CONFIG["pushers"])
    # Gateways push to the ingest pool (its own gunicorn, as a proxy would route /observations/ in production),
    # so a 1,000-row push never holds a dashboard worker's interpreter lock.
    host = CONFIG.get("push_host")
    wait_time = constant_pacing(CONFIG["push_interval"])

    def on_start(self):
        pusher = next(_pushers)
        self.headers = {"Authorization": f"Token {pusher['token']}", "Content-Type": "application/json"}
        self.url = f"/api/v1/tenants/{pusher['tenant']}/sources/{pusher['source']}/observations/"
        self.series = [f"cam-{n}" for n in range(CONFIG["series_per_push"])]
        self.steps = CONFIG["batch_rows"] // len(self.series)
        self.start = datetime.fromisoformat(CONFIG["first_time"])
        self.batch = 0

    @task
    def push(self):
        first = self.start + timedelta(seconds=self.batch * self.steps)
        self.batch += 1
        rows = [
            {"series": key, "time": (first + timedelta(seconds=step)).isoformat(), "value": step % 40}
            for step in range(self.steps)
            for key in self.series
        ]
        with self.client.post(
            self.url, data=json.dumps(rows), name="push", headers=self.headers, catch_response=True
        ) as response:
            if response.status_code == 200 and response.json().get("accepted") != len(rows):
                response.failure(f"accepted {response.json().get('accepted')} of {len(rows)} rows")
