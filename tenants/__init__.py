"""Platform core: tenants (organisations), members and roles, API tokens, second factor and log-in lock-out,
the audit trail, the tenant scoping machinery, problem responses, JSON limits, the egress client, the one
timestamp reader (instants) and the one backoff rule (retry). Depends on no other app of the platform."""
