"""What happened in incidents, told to whoever acts on it once the transaction has committed.

The services (alerts, the action log, webhooks) publish an event; the Celery tasks module subscribes the
handlers that enqueue work (e-mail an alert, measure an ended action, deliver a webhook event). So the
services never import the tasks, the tasks import the services, and nothing runs for a change that was
rolled back. Events:

- ``alert.announced`` (tenant_id, alert_id, roles): e-mail the members with these roles;
- ``alert.opened`` (tenant_id, alert_id): every new alert, for apps above incidents (sharing tells the
  participants of a joint operation who are on duty);
- ``action.ended`` (tenant_id, action_id): measure the action's outcomes;
- ``webhook_event.stored`` (tenant_id, event_id, webhook_ids): deliver the event to each webhook.

Publishing an event nobody subscribed to raises: work must not vanish because a module was not loaded.
"""

from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

_subscribers: dict[str, list[Callable]] = defaultdict(list)


def subscribe(name: str) -> Callable[[Callable], Callable]:
    """Decorator: call the function with the event's payload after each commit that published ``name``."""

    def register(handler: Callable) -> Callable:
        if handler not in _subscribers[name]:
            _subscribers[name].append(handler)
        return handler

    return register


def publish(name: str, **payload) -> None:
    handlers = list(_subscribers.get(name, ()))
    if not handlers:
        raise LookupError(f"no subscriber for the event {name!r}; is incidents.tasks loaded?")
    for handler in handlers:
        transaction.on_commit(lambda handler=handler: handler(**payload))


def subscribers(name: str) -> list[Callable]:
    return list(_subscribers.get(name, ()))
