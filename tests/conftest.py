"""Shared fixtures: a fresh in-memory graph store per test, API clients with keys, the sample data sets (data/)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from rest_framework.test import APIClient

import graph
from apps.core.models import SCOPES, ApiKey

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_DATA = Path(settings.DATA_DIR)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only", action="store_true",
        help="run only the tests that can reach the database (pytest-django lets a test reach it only through "
             "the django_db marker or a database fixture): a second pass on another database server, where the "
             "other tests would run the same code again")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("database_tests_only"):
        return
    reaches = {item.nodeid: reaches_database(item) for item in items}
    if not any(reaches.values()):
        raise pytest.UsageError("--database-tests-only: none of the selected tests can reach the database")
    config.hook.pytest_deselected(items=[item for item in items if not reaches[item.nodeid]])
    items[:] = [item for item in items if reaches[item.nodeid]]


def reaches_database(item: pytest.Item) -> bool:
    """pytest-django refuses a query from any test without the marker or a fixture built on its database
    set-up (`db`, `transactional_db`, `live_server` with a key, our `api_key`...)."""
    return item.get_closest_marker("django_db") is not None or "django_db_setup" in getattr(item, "fixturenames", ())


@pytest.fixture(autouse=True)
def fresh_graph(settings, tmp_path_factory) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Every test starts with an empty embedded store unless it points GRAPH_URL elsewhere, and an
    empty event store beside it."""
    settings.EVENTS_STORE_URL = str(tmp_path_factory.mktemp("events"))
    graph.reset_connection()
    yield
    graph.reset_connection()


@pytest.fixture
def g():  # type: ignore[no-untyped-def]
    return graph.get_g()


@pytest.fixture
def api_key(db) -> str:  # type: ignore[no-untyped-def]
    """A key with every scope, for tests about what an endpoint does; tests/core/test_access_matrix.py
    is where each scope's limits are tested."""
    _, raw = ApiKey.issue("test-client", scopes=SCOPES)
    return raw


@pytest.fixture
def api_client(api_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


@pytest.fixture
def shared_data() -> Path:
    if not SAMPLE_DATA.exists():
        pytest.fail(f"sample data sets not found at {SAMPLE_DATA} (they live in data/; DATA_DIR points elsewhere)")
    return SAMPLE_DATA


@pytest.fixture
def still_throttle_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttle counts per fixed window of its period: its clock stands still mid-minute, so a
    test's few requests never straddle a window's turn (which would reset the count under it)."""
    from types import SimpleNamespace

    from apps.core import throttling

    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))


@pytest.fixture
def keep_the_test_connection() -> Iterator[None]:
    """The WSGI application closes the database connection after each request; inside a test that
    connection holds the test's transaction (PostgreSQL would answer every later request with "the
    connection is closed"). Django's own test client unhooks the same signal handler."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
