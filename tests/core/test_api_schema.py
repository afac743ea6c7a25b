"""The OpenAPI document is complete and generates without warnings; the docs page is served."""
from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings_and_documents_the_api_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "Send `Authorization: Api-Key <key>` (create one with `manage.py create_api_key`); "
                       "in Swagger UI's Authorize dialog (/api/docs), enter `Api-Key <key>`."}
    for path in ["/api/events", "/api/customers", "/api/customers/{customer_id}",
                 "/api/customers/{customer_id}/journey", "/api/ingest/batches/{id}/quarantine"]:
        assert path in schema["paths"], path
    # one spelling: no route documented with a trailing slash (a client's added slash is answered alike)
    assert [path for path in schema["paths"] if path.endswith("/")] == []


@pytest.mark.parametrize("slash", ["", "/"])
def test_schema_and_docs_pages_are_served_in_either_spelling(client, slash: str) -> None:  # type: ignore[no-untyped-def]
    schema = client.get(f"/api/schema{slash}")
    assert (schema.status_code, schema["Content-Type"]) == (200, "application/vnd.oai.openapi; charset=utf-8")
    docs = client.get(f"/api/docs{slash}")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    # the page asks for the schema in the routes' one spelling
    assert b'"/api/schema"' in docs.content
    # Swagger UI starts with an inline script: the page is outside the content security policy
    assert "Content-Security-Policy" not in docs and "Content-Security-Policy" in client.get(f"/api/redoc{slash}")


@pytest.mark.parametrize("page", ["/api/docs", "/api/redoc"])
def test_docs_pages_load_only_files_this_server_serves(client, page: str) -> None:  # type: ignore[no-untyped-def]
    """Given no network, when a newcomer opens the API docs, then every script, style and icon is local."""
    import re

    from django.contrib.staticfiles import finders

    response = client.get(page)

    assert response.status_code == 200
    html = response.content.decode()
    assert "//" not in "".join(re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)).replace("http://testserver", "")
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html)
    assert any(asset.endswith(".js") for asset in assets), assets
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset


def test_descriptions_speak_to_api_users_not_about_the_implementation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Docstrings say why the code is as it is; the OpenAPI document must say only what a client needs."""
    import re

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    internal = re.compile(r"\bDRF\b|deep-cop|constructor|interpreter|per-request state|Gremlin|DuckDB|selector|"
                          r"dataclass|queryset", re.I)
    found = []

    def walk(node, where: str) -> None:  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "summary") and isinstance(value, str) and internal.search(value):
                    found.append(f"{where}: {value[:80]}")
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(yaml.safe_load(out.read_text()), "")
    assert found == []


def test_every_error_an_operation_documents_is_a_problem_and_every_list_a_page() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    errors, lists = {}, {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    errors[f"{method.upper()} {path} {code}"] = list(response.get("content", {}))
            ref = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema")
            component = schema["components"]["schemas"].get(str((ref or {}).get("$ref", "")).rsplit("/", 1)[-1], {})
            if method == "get" and "results" in component.get("properties", {}):
                lists[f"GET {path}"] = component

    assert errors and {tuple(types) for types in errors.values()} == {("application/problem+json",)}
    assert "GET /api/customers 404" not in errors and "GET /api/customers/{customer_id} 404" in errors
    assert "POST /api/events 413" in errors and "GET /api/ping 429" in errors
    assert "DELETE /api/milestones/{slug} 409" in errors
    for name, component in lists.items():
        assert set(component["properties"]) == {"count", "next", "previous", "results"}, name
    assert {"GET /api/customers", "GET /api/kpis", "GET /api/models", "GET /api/contacts",
            "GET /api/customers/{customer_id}/journey", "GET /api/journeys/funnel/customers"} <= set(lists)


def test_request_bodies_that_refuse_unknown_fields_say_so() -> None:
    """A body whose every accepted field is in its schema forbids others there too, so a client generated
    from the schema (or a schema checker) knows `{"chanel": ...}` is refused. Milestones and webhooks
    also take back their read-only fields, which their request schemas leave out, so they do not."""
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    closed = sorted(name for name, component in components.items() if component.get("additionalProperties") is False)
    assert closed == ["ActivateRequest", "FeedbackRequestRequest", "IntentRequestRequest", "RiskRequestRequest",
                      "TrainRequestRequest"]
