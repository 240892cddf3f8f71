"""Configuration packages: export, validation and import of a tenant's set-up, and the coalition library of
shared templates. Uses the domain apps (tenants, sources, areas, incidents); none of them uses it."""
