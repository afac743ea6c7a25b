"""A DRF router whose routes answer with and without a trailing slash, so `/api/x/1` and
`/api/x/1/` both work for clients (no redirects that drop POST bodies)."""
from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__(trailing_slash=False)
        self.trailing_slash = "/?"
