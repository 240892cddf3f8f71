"""The Celery application: worker and beat read their settings from Django (``CELERY_*``)."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("csm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "worker-heartbeat": {"task": "tenants.tasks.record_heartbeat", "schedule": 30.0},
    "purge-expired-api-tokens": {"task": "tenants.tasks.purge_expired_api_tokens", "schedule": 3600.0},
    "purge-login-throttles": {"task": "tenants.tasks.purge_login_throttles", "schedule": 3600.0},
    "dispatch-due-sources": {
        "task": "sources.tasks.dispatch_due_sources",
        "schedule": float(os.environ.get("DISPATCH_INTERVAL_SECONDS", "2")),
    },
    "evaluate-alerts": {"task": "incidents.tasks.evaluate_all_alerts", "schedule": 60.0},
    "train-forecast-models": {
        "task": "areas.tasks.train_all_forecast_models",
        "schedule": crontab(hour=2, minute=37),
    },
    "refresh-forecasts": {"task": "areas.tasks.refresh_all_forecasts", "schedule": crontab(minute=3)},
    "measure-outcomes": {"task": "incidents.tasks.measure_all_outcomes", "schedule": 900.0},
    "calibrate-panels": {"task": "areas.tasks.calibrate_all_panels", "schedule": crontab(hour=4, minute=7)},
    "purge-audit-trails": {
        "task": "tenants.tasks.purge_audit_trails",
        "schedule": crontab(hour=3, minute=47),
    },
    "purge-old-observations": {
        "task": "sources.tasks.purge_old_observations",
        "schedule": crontab(hour=3, minute=17),
    },
    "purge-old-attachments": {
        "task": "incidents.tasks.purge_old_attachments",
        "schedule": crontab(hour=3, minute=27),
    },
}
