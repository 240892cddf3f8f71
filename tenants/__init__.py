"""Tenants: organisations on the platform, their members and roles, API tokens and the scoping machinery."""
