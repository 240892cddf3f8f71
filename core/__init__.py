"""Platform core without a domain: problem responses (RFC 9457), request parsers and the input guard, the JSON
limits, pagination, the one timestamp reader (instants) with its serializer field and filters, the OpenAPI
schema hooks, CSV export, the one backoff rule (retry), the egress client every outgoing request goes
through, and the worker heartbeat (health). Knows no tenant and imports no other app of the platform."""
