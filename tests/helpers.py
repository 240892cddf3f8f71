"""Assertions shared by the test modules (fixtures live in the conftest files, factories in factories.py)."""

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """``response`` is an RFC 9457 problem of ``status`` (and of type ``urn:csm:problem:<code>``); its body."""
    return assert_problem_in(response, status, code=code)


def assert_problem_in(response, *statuses: int, code: str | None = None) -> dict:
    """``response`` is a problem with one of ``statuses``: status, type, title and detail filled in."""
    assert response.status_code in statuses, (response.status_code, response.content[:500])
    assert response["Content-Type"] == PROBLEM, response["Content-Type"]
    body = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith("urn:csm:problem:"), body["type"]
    assert body["title"] and body["detail"], body
    if code:
        assert body["type"] == f"urn:csm:problem:{code}", body["type"]
    return body
