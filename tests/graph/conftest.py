from tests.graph.server_fixture import gremlin_server, gremlin_server_url  # noqa: F401
