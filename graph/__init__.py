"""The graph gateway: the only package that speaks Gremlin.

`get_g()` gives a gremlinpython GraphTraversalSource for the store named by GRAPH_URL; the
journey schema, batched writes and reads live in `graph.journeys`.
"""
from graph.connection import connect, ensure_reachable, get_connection, get_g, health, reset_connection
from graph.errors import GraphError, GraphLocked, GraphQueryError, GraphUnavailable, UnsupportedTraversal

__all__ = ["connect", "ensure_reachable", "get_connection", "get_g", "health", "reset_connection", "GraphError",
           "GraphLocked", "GraphQueryError", "GraphUnavailable", "UnsupportedTraversal"]
