"""Tenants (organisations), members and roles, API tokens, second factor and log-in lock-out, the audit
trail, the permissions and the tenant scoping machinery with its scoped base models: everything that is
about a tenant. Depends on ``core`` only (problem responses, parsers, instants, egress, retry)."""
