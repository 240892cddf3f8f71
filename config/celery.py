"""The Celery application: worker and beat read their settings from Django (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("csm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "worker-heartbeat": {"task": "tenants.tasks.record_heartbeat", "schedule": 30.0},
    "purge-expired-api-tokens": {"task": "tenants.tasks.purge_expired_api_tokens", "schedule": 3600.0},
}
