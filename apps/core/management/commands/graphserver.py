"""`python manage.py graphserver --host 127.0.0.1 --port 8182`: serve the GRAPH_URL store over Gremlin WebSocket.

Only one process may open the embedded store, so this one owns it and every other process (web
workers, the Connect Lambda shim, notebooks) points GRAPH_URL at the printed ws:// address.
Credentials come from GRAPHSERVER_USERNAME/GRAPHSERVER_PASSWORD and are required for any address
but loopback; --certfile/--keyfile turn on TLS (wss://).
"""
from __future__ import annotations

import asyncio
import logging
import ssl

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from graph.embedded import EmbeddedStore
from graph.errors import GraphUnavailable
from graph.server import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EVALUATION_TIMEOUT_MS,
    DEFAULT_MAX_RESULTS,
    GremlinServer,
    credentials_from_environment,
    embedded_store_for,
    serve_until_signalled,
    tls_context,
)
from journeyhub.long_lived import hold_cpu_wake_latency


class Command(BaseCommand):
    help = "Serve the embedded graph store (GRAPH_URL=embedded://...) as a Gremlin Server (GraphBinary over WebSocket)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8182, help="Port to listen on (default 8182)")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                            help="Results per response frame when the client sends no batchSize")
        parser.add_argument("--workers", type=int, default=4, help="Threads running traversals")
        parser.add_argument("--evaluation-timeout", type=int, default=DEFAULT_EVALUATION_TIMEOUT_MS,
                            help="Longest a traversal may run, in ms (a request may ask for less)")
        parser.add_argument("--max-results", type=int, default=DEFAULT_MAX_RESULTS,
                            help="Most values one traversal may return")
        parser.add_argument("--certfile", help="TLS certificate chain (PEM); serves wss://")
        parser.add_argument("--keyfile", help="TLS private key (PEM), if not in the certificate file")

    def handle(self, *args: object, **options: object) -> None:
        try:
            hold_cpu_wake_latency()  # with CPU_WAKE_LATENCY_US set: the engine's threads wake for every read
            store = embedded_store_for(settings.GRAPH_URL)
            store.graph  # noqa: B018 - open now so a locked store fails here, not on the first request
        except (ImproperlyConfigured, ValueError, GraphUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if int(str(options["verbosity"])) >= 3:
            logging.getLogger("graph.server").setLevel(logging.DEBUG)
        try:
            server = self._server(store, options)
        except (ValueError, OSError, ssl.SSLError) as exc:
            store.close()
            raise CommandError(str(exc)) from exc
        try:
            asyncio.run(serve_until_signalled(server, self._announce))
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        finally:
            store.close()
        self.stdout.write("Gremlin server stopped; store closed.")

    def _server(self, store: EmbeddedStore, options: dict[str, object]) -> GremlinServer:
        """Refuses (ValueError) a non-loopback address without credentials, a bad certificate (SSLError)."""
        certfile, keyfile = options.get("certfile"), options.get("keyfile")
        if keyfile and not certfile:
            raise ValueError("--keyfile needs --certfile")
        return GremlinServer(
            store, host=str(options["host"]), port=int(str(options["port"])),
            batch_size=int(str(options["batch_size"])), workers=int(str(options["workers"])),
            credentials=credentials_from_environment(),
            ssl_context=tls_context(str(certfile), str(keyfile) if keyfile else None) if certfile else None,
            evaluation_timeout_ms=int(str(options["evaluation_timeout"])),
            max_results=int(str(options["max_results"])))

    def _announce(self, server: GremlinServer) -> None:
        self.stdout.write(f"Serving {settings.GRAPH_URL} as a Gremlin Server. Point clients at it with:")
        self.stdout.write(f"  GRAPH_URL={server.url}")
        if server.credentials is not None:
            self.stdout.write("Clients authenticate with SASL PLAIN (the GRAPHSERVER_USERNAME user).")
        self.stdout.write("Stop with Ctrl-C (SIGINT) or SIGTERM.")
        self.stdout.flush()
