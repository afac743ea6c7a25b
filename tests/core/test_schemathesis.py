"""Property-based requests over the whole OpenAPI schema (schemathesis), through the WSGI application,
with a key that holds every scope (so every operation is reached), and every check schemathesis has:
no server error; every status, content type, header and body as the schema documents it; requests
the schema allows are accepted and requests it forbids are refused.

Bounded (a few examples per operation, plus schemathesis' coverage cases) to stay within about a
minute. Rules that span several fields or depend on stored data cannot be written in JSON Schema;
requests breaking one are not expected to be accepted (BEYOND_THE_SCHEMA), and every other check
still applies to them.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from journeyhub.wsgi import application

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application
# DRF refuses a NUL character in any text (400), which JSON Schema has no word for.
schema.config.generation.update(allow_x00=False)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_the_test_connection")]


def _given(values: Any, *names: str) -> bool:
    return isinstance(values, dict) and all(values.get(name) not in ("", None, []) for name in names)


def _sliced(query: Any) -> bool:
    return isinstance(query, dict) and query.get("dimension") not in (None, "", "all")


# Rules JSON Schema cannot state: a request the schema allows but that breaks one is refused with a
# 400 naming the field (or, for identifiers, a 404), so "valid data is accepted" is not asked of it.
# Every other check still runs on these requests.
BEYOND_THE_SCHEMA: dict[str, Any] = {
    # each event is checked on its own; a request whose every event is quarantined is a 400
    "POST /api/events": lambda case: True,
    # `until` after `since`, one anchor for paths, a drill-down step within the funnel, and the
    # event types, channels, milestones and segments named must be ones the store holds
    **{f"GET /api/journeys/{name}": lambda case: True
       for name in ("top", "paths", "funnel", "funnel/customers", "dfg")},
    # one of customer_id and sequence, and a sequence's event types ones some event carries
    "GET /api/similarity": lambda case: _given(case.query, "customer_id") == _given(case.query, "sequence")
    or _given(case.query, "sequence"),
    # a channel or segment slice names its value, and only a slice takes one
    "GET /api/kpis/{slug}/series": lambda case: _sliced(case.query) != bool(str((case.query or {}).get("value") or "")
                                                                           .strip()),
    # an identifier's value must read as one of its kind (a phone number in a numbering plan); a page
    # is read after or before an id (not both, and not at an offset), and a list ordered by a score
    # pages by offset only
    "GET /api/customers": lambda case: _given(case.query, "identifier") or _given(case.query, "after", "before")
    or ((_given(case.query, "order_by") or _given(case.query, "offset"))
        and (_given(case.query, "after") or _given(case.query, "before"))),
    "GET /api/profiles/by-phone/{e164}": lambda case: True,
    # a range's end (until, sentiment_max, duration_max) must not come before its start, and a category
    # must be one some contact matched
    "GET /api/contacts": lambda case: _given(case.query, "category") or any(_given(case.query, low, high) for low, high
                                                                          in (("since", "until"),
                                                                              ("sentiment_min", "sentiment_max"),
                                                                              ("duration_min", "duration_max"))),
    # a caller is named by customer_id or phone, and a phone number must be one in a numbering plan
    **{f"POST /api/decisions/{name}": lambda case: _given(case.body, "phone")
       or not (_given(case.body, "customer_id") or _given(case.body, "phone"))
       for name in ("intent", "risk")},
    "POST /api/decisions/intent/feedback": lambda case: _given(case.body, "phone"),
    # each trigger needs its own fields; a webhook's URL must reach an allowed http(s) host and its
    # milestones must exist; a property neither has (JSON Schema allows any) is refused by name
    **{f"{method} /api/{path}": lambda case: True
       for method in ("POST", "PUT", "PATCH")
       for path in (("milestones", "webhooks") if method == "POST" else ("milestones/{slug}", "webhooks/{id}"))},
}


@pytest.fixture(autouse=True)
def webhooks_may_target_loopback(settings) -> None:  # type: ignore[no-untyped-def]
    """Webhook URLs are checked by resolving their host; the generated hosts are replaced by
    127.0.0.1 (to_loopback below), which this allows, so no name is ever looked up off the machine."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def to_loopback(case: Any) -> None:
    """Webhook URLs are checked by resolving their host: generated hosts become 127.0.0.1 (which
    the fixture above allows), so no name is ever looked up off the machine."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        parts = urlsplit(body["url"])
        if parts.scheme in ("http", "https") and parts.hostname:
            case.body = {**body, "url": urlunsplit(parts._replace(netloc="127.0.0.1"))}


@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_the_api_does_what_its_schema_says(case, api_key) -> None:  # type: ignore[no-untyped-def]
    to_loopback(case)
    headers = {"Authorization": f"Api-Key {api_key}"}
    response = case.call(headers=headers)
    rule = BEYOND_THE_SCHEMA.get(case.operation.label)
    excluded = [positive_data_acceptance] if rule is not None and rule(case) else []
    case.validate_response(response, headers=headers, excluded_checks=excluded)
