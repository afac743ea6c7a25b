"""A real HTTP hub on loopback inside this process, for replays and checks of the Connect Lambda.

It serves the project's WSGI application with Django's threaded development server on 127.0.0.1,
sharing this process's graph store and database, and can be stopped at any moment (which is how the
replay shows that the Lambda's fallback holds when the hub goes away mid-day).
"""
from __future__ import annotations

import threading
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        return None


class LocalHub:
    def __init__(self, *, port: int = 0, connections_override: dict[str, Any] | None = None) -> None:
        self._server = ThreadedWSGIServer(("127.0.0.1", port), _QuietHandler, allow_reuse_address=False,
                                          connections_override=connections_override)
        self._server.set_app(WSGIHandler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self.running = False

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> LocalHub:
        self._thread.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stop accepting and close the listening socket: later calls get 'connection refused'."""
        if self.running:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self.running = False

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
