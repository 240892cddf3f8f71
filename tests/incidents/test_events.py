"""incidents.events: the services publish, the tasks module enqueues, only after a commit."""

import re
from pathlib import Path

import pytest
from django.db import transaction

from incidents import events, tasks

INCIDENTS = Path(events.__file__).resolve().parent


def published_names() -> set[str]:
    return {
        name
        for path in INCIDENTS.glob("*.py")
        for name in re.findall(r'events\.publish\(\s*"([^"]+)"', path.read_text())
    }


def test_every_published_event_has_a_task_subscribed():
    names = published_names()
    assert names == {"alert.announced", "alert.opened", "action.ended", "webhook_event.stored"}
    # alert.opened is for the apps above incidents: sharing tells the participants of joint operations.
    owners = {"alert.opened": "sharing.tasks"}
    for name in names:
        owner = owners.get(name, tasks.__name__)
        assert any(h.__module__ == owner for h in events.subscribers(name)), name


def test_an_event_nobody_listens_to_is_an_error_not_lost_work():
    with pytest.raises(LookupError, match=r"no subscriber for the event 'nobody\.listens'"):
        events.publish("nobody.listens", tenant_id=1)


@pytest.mark.django_db(transaction=True)
def test_handlers_run_after_commit_and_never_for_a_rollback(monkeypatch):
    calls = []
    monkeypatch.setitem(events._subscribers, "test.happened", [lambda **payload: calls.append(payload)])
    with transaction.atomic():
        events.publish("test.happened", tenant_id=1, thing=2)
        assert calls == []  # not before the commit
    assert calls == [{"tenant_id": 1, "thing": 2}]
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish("test.happened", tenant_id=1, thing=3)
        raise RuntimeError("rolled back")
    assert calls == [{"tenant_id": 1, "thing": 2}]


@pytest.mark.django_db(transaction=True)
def test_a_stored_webhook_event_enqueues_one_delivery_per_webhook(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.deliver_webhook_event_task, "delay", lambda *args: sent.append(args))
    with transaction.atomic():
        events.publish("webhook_event.stored", tenant_id=7, event_id=11, webhook_ids=[3, 4])
    assert sent == [(7, 11, 3), (7, 11, 4)]
