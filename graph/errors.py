"""Errors the rest of the project may catch without knowing which store is behind GRAPH_URL."""


class GraphError(Exception):
    """Base class for graph gateway errors."""


class GraphUnavailable(GraphError):
    """The store cannot be reached (server down, store locked by another writer, closed)."""


class GraphLocked(GraphUnavailable):
    """The embedded store is open in another process; the message names that process. Retrying does
    not help until it stops (or serves the store with `graphserver`)."""


class GraphQueryError(GraphError):
    """The store refused a traversal (a bug in a traversal or an unsupported step)."""


class UnsupportedTraversal(GraphQueryError):
    """A traversal uses something outside the portable subset the project allows."""
