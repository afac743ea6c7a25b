"""Reading the API's error answers (RFC 9457 problem details) in tests."""
from __future__ import annotations

from typing import Any

MEMBERS = {"type", "title", "status", "detail", "instance"}


def problem(response: Any) -> dict[str, Any]:
    """The problem details of an error answer, after checking that it is one."""
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body: dict[str, Any] = response.json()
    assert MEMBERS <= set(body), body
    assert body["status"] == response.status_code, body
    return body


def field_errors(response: Any) -> dict[str, list[str]]:
    """An invalid-request problem's `errors` by field ("" for the request as a whole)."""
    body = problem(response)
    assert (response.status_code, body["type"]) == (400, "urn:journeyhub:problem:invalid-request"), body
    found: dict[str, list[str]] = {}
    for error in body["errors"]:
        found.setdefault(error["field"] or "", []).append(error["detail"])
    return found
