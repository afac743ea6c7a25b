"""Property-based requests over the whole OpenAPI schema (schemathesis), with a valid API key, through
the WSGI application: no operation answers with a server error, whatever the generated input.
Bounded (a few examples per operation) to stay within about a minute."""
from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from journeyhub.wsgi import application

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = application

pytestmark = pytest.mark.django_db




@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, api_key) -> None:  # type: ignore[no-untyped-def]
    response = case.call(headers={"Authorization": f"Api-Key {api_key}"})
    case.validate_response(response, checks=[not_a_server_error])
