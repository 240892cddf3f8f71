"""Alerts, interventions, the action log, incidents, outcomes and learning."""
