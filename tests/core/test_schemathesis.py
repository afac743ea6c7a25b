"""Property-based requests over the whole OpenAPI schema (schemathesis), with a valid API key, through
the WSGI application: no operation answers with a server error, whatever the generated input.
Bounded (a few examples per operation) to stay within about a minute."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from journeyhub.wsgi import application

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """The WSGI application closes the database connection after each request; inside a test that
    connection holds the test's transaction (PostgreSQL would answer every later request with "the
    connection is closed"). Django's own test client unhooks the same signal handler."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)




@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, api_key) -> None:  # type: ignore[no-untyped-def]
    response = case.call(headers={"Authorization": f"Api-Key {api_key}"})
    case.validate_response(response, checks=[not_a_server_error])
