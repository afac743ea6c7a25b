"""Model fields shared by the apps."""
from __future__ import annotations

import json
from typing import Any

from django.db import models


class OrderedJSONField(models.JSONField):
    """A JSON value whose object keys come back in the order they were written.

    PostgreSQL's `jsonb` (Django's JSONField) re-orders keys, so a quarantined row would come back with
    its columns shuffled; `json` keeps the text as written. Only for values that are shown, never
    filtered on (`json` has no equality operator)."""

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is not None and not isinstance(value, str):
            return value  # psycopg decodes `json` itself (Django only asks it not to for `jsonb`)
        return super().from_db_value(value, expression, connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor == "postgresql" and value is not None:
            return json.dumps(value, cls=self.encoder)  # text as written: a jsonb adapter would re-order keys
        return super().get_db_prep_value(value, connection, prepared)
