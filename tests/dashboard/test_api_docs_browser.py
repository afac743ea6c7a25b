"""The API's docs pages in a real Chromium, as a newcomer opens them from the README: Swagger UI and
Redoc show every operation of the schema, load nothing from anywhere but this server, and log no
error (Swagger UI's page is outside the content security policy, for its inline start-up script;
Redoc's page is inside it, with workers from blob: URLs allowed for its search); a key pasted into
Swagger UI's Authorize dialog is sent as the API expects it."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.dashboard.conftest import recorded_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
METHODS = {"get", "post", "put", "patch", "delete"}
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def docs_page(browser, live_server) -> Iterator[tuple[object, list[str], list[str]]]:  # type: ignore[no-untyped-def]
    """A page that records script errors, console errors and what it loaded from any other origin."""
    elsewhere: list[str] = []
    with recorded_page(browser, live_server.url) as (page, problems):
        page.on("requestfinished",
                lambda r: None if r.url.startswith((live_server.url, "blob:", "data:")) else elsewhere.append(r.url))
        yield page, problems, elsewhere


def _operations(page) -> int:  # type: ignore[no-untyped-def]
    paths = page.request.get("/api/schema?format=json").json()["paths"]
    return sum(1 for methods in paths.values() for method in methods if method in METHODS)


def test_swagger_ui_shows_every_operation(docs_page) -> None:  # type: ignore[no-untyped-def]
    page, problems, elsewhere = docs_page
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert page.inner_text(".swagger-ui .info .title").startswith("JourneyHub API")
    assert page.locator(".swagger-ui .opblock").count() == _operations(page) == 49
    page.wait_for_load_state("networkidle")
    assert (problems, elsewhere) == ([], [])


def test_redoc_shows_every_operation_and_searches_them(docs_page) -> None:  # type: ignore[no-untyped-def]
    page, problems, elsewhere = docs_page
    page.goto("/api/redoc")
    page.wait_for_selector("h1:has-text('JourneyHub API')")
    assert page.locator("[data-section-id^='operation/']").count() == _operations(page) == 49
    # the search runs in Redoc's worker: it finds the decision endpoints by name
    page.fill("input[placeholder='Search...']", "risk")
    page.wait_for_selector("[data-role='search:results'] li")
    assert "risk" in page.inner_text("[data-role='search:results']").lower()
    page.wait_for_load_state("networkidle")
    # Redoc's menu shows its maker's logo from a CDN: the page's policy refuses it (the one error)
    assert [p for p in problems if not (REDOC_LOGO in p and "Content Security Policy" in p)] == []
    assert elsewhere == []


def test_a_newcomer_authorizes_with_a_key_and_tries_the_ping_in_swagger_ui(docs_page, api_key) -> None:  # type: ignore[no-untyped-def]
    page, problems, elsewhere = docs_page
    page.goto("/api/docs")
    page.click(".swagger-ui .btn.authorize")
    scheme = page.locator(".swagger-ui .auth-container").filter(has_text="ApiKeyAuth")
    scheme.locator("input").fill(f"Api-Key {api_key}")
    scheme.locator(".btn.authorize").click()
    page.click(".swagger-ui .btn-done")
    ping = page.locator(".swagger-ui #operations-ping-ping_retrieve")
    ping.locator(".opblock-summary").click()
    ping.locator(".try-out__btn").click()
    ping.locator(".btn.execute").click()
    answer = ping.locator(".live-responses-table tr.response")
    answer.wait_for()
    assert answer.locator(".response-col_status").inner_text().strip() == "200"
    assert json.loads(answer.locator(".microlight").first.inner_text()) == {"client": "api-key:test-client"}
    assert (problems, elsewhere) == ([], [])
