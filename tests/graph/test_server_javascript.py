"""gremlin-javascript 3.7.3 with its default settings (GraphSON 3.0) against graphserver, in a Node process."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from graph.embedded import EmbeddedStore
from graph.server import BackgroundServer, Credentials

JS = Path(__file__).resolve().parent / "js"
NODE_DEADLINE_S = 60



@pytest.fixture(autouse=True)
def gremlin_javascript() -> None:
    """The driver must be there: a missing one fails with what to run, never passes unnoticed."""
    if shutil.which("node") is None or not (JS / "node_modules" / "gremlin").is_dir():
        pytest.fail("gremlin-javascript is not installed: run scripts/install_gremlin_js.sh (make test does)")


def _run_node(url: str, *credentials: str) -> dict[str, object]:
    done = subprocess.run(["node", str(JS / "client.js"), url, *credentials], capture_output=True, text=True,
                          timeout=NODE_DEADLINE_S, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


EXPECTED = {
    "names": ["josh", "marko", "vadas"],
    "vertex": {"id": "1", "label": "person"},
    "edge": {"label": "knows", "outV": "1", "inV": "2"},
    "grouped": {"marko": 29, "vadas": 27, "josh": 32},
    "older": 2,
    "parallel": [[10], [20], [30], [40], [50]],
}


def test_the_javascript_driver_with_default_settings_is_served() -> None:
    store = EmbeddedStore("memory")
    server = BackgroundServer(store).start()
    try:
        assert _run_node(server.url) == EXPECTED
    finally:
        server.stop()
        store.close()


def test_the_javascript_driver_authenticates_with_sasl_plain() -> None:
    store = EmbeddedStore("memory")
    server = BackgroundServer(store, credentials=Credentials("analyst", "js-secret")).start()
    try:
        assert _run_node(server.url, "analyst", "js-secret") == EXPECTED
        with pytest.raises(AssertionError, match="Username and/or password are incorrect"):
            _run_node(server.url, "analyst", "wrong")
    finally:
        server.stop()
        store.close()
