"""Tables shown on pages and downloaded as CSV from the same data, so the two never disagree."""
from __future__ import annotations

import csv
import io
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """Rows are dicts keyed by column key; `links` maps a column key to a per-row URL key."""

    name: str
    caption: str
    columns: Sequence[Column]
    rows: Sequence[dict[str, Any]]
    links: dict[str, str] = field(default_factory=dict)

    def cells(self) -> list[list[tuple[Any, str | None, bool]]]:
        """(value, link or None, numeric) per cell, in column order, for the template."""
        return [
            [(row.get(c.key, ""), row.get(self.links[c.key]) if c.key in self.links else None, c.numeric)
             for c in self.columns]
            for row in self.rows
        ]


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real):  # numbers stay numbers, negative ones too (numpy's included)
        return f"{value:.6g}" if isinstance(value, float) else str(value)
    text = " > ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    return escape_formula(text)


def escape_formula(text: str) -> str:
    """Text a spreadsheet would run as a formula is written with a leading apostrophe, which shows the
    cell as the text it is."""
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def csv_response(table: Table) -> HttpResponse:
    buffer = io.StringIO()
    # RFC 4180 line ends: with them the writer also quotes a cell holding a lone carriage return,
    # which a reader would otherwise take for the end of the row.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([escape_formula(c.label) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(row.get(c.key)) for c in table.columns])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.name}.csv"'
    return response


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def csv_url(request: HttpRequest, table: str | None = None) -> str:
    """The current page's URL with format=csv added, keeping every filter the person chose."""
    query = request.GET.copy()
    query["format"] = "csv"
    if table:
        query["table"] = table
    return f"{request.path}?{query.urlencode()}"
