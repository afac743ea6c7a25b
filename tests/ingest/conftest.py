import pytest

from tests.backends import graph_backend  # noqa: F401
from tests.graph.server_fixture import gremlin_server, gremlin_server_url  # noqa: F401


@pytest.fixture(autouse=True)
def _every_test_on_both_backends(graph_backend: str) -> str:  # noqa: F811
    return graph_backend
