"""Alerts and alert rules, interventions and the action log, incidents, outcomes and learning, webhooks
and e-mail. Follow-up work is published as events on commit (incidents.events) and enqueued by
incidents.tasks. Uses tenants, sources and areas."""
