"""OpenAPI post-processing: document the problem-details error responses on every operation."""

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 7807 problem details; `errors` holds per-field (or per-row) messages.",
    "properties": {
        "type": {"type": "string", "example": "urn:csm:problem:validation"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["type", "title", "status", "detail"],
}

ERRORS = {
    "400": "Invalid input (per-field `errors`), malformed JSON",
    "401": "No or invalid credentials",
    "403": "Your role in this tenant lacks the right",
    "404": "Unknown tenant, not a member, or no such object in this tenant",
    "413": "Request body too large",
    "415": "Unsupported content type",
}


def add_problem_responses(result, generator, request, public):
    """Add the Problem schema and the error responses each operation can give."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = ["401"] if operation.get("security") != [] else []
            if "{tenant}" in path:
                codes += ["403", "404"]
            if method in {"post", "put", "patch"}:
                codes += ["400", "413", "415"]
            responses = operation.setdefault("responses", {})
            for code in codes:
                existing = responses.get(code, {})
                responses[code] = {"description": existing.get("description") or ERRORS[code], "content": ref}
    return result
