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
    """Rows are dicts keyed by column key; `links` maps a column key to a per-row URL key; `labels`
    maps a column key to a per-row key holding what people read instead of the code (the page shows
    the label with the code on hover, the CSV keeps the code)."""

    name: str
    caption: str
    columns: Sequence[Column]
    rows: Sequence[dict[str, Any]]
    links: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def cells(self) -> list[list[tuple[Any, str | None, bool, str]]]:
        """(value, link or None, numeric, code shown on hover or "") per cell, in column order, for the
        template; numbers rounded for reading (the CSV keeps six significant digits)."""
        return [[self._cell(row, c) for c in self.columns] for row in self.rows]

    def _cell(self, row: dict[str, Any], column: Column) -> tuple[Any, str | None, bool, str]:
        value = row.get(column.key, "")
        link = row.get(self.links[column.key]) if column.key in self.links and value not in ("", None) else None
        label = row.get(self.labels[column.key]) if column.key in self.labels else None
        if label and label != value:
            return label, link, column.numeric, str(value)
        return shown(value), link, column.numeric, ""


def shown(value: Any) -> Any:
    """A float as people read it: two decimals from 1 up (249.98), four significant digits below
    (0.8123); everything else unchanged."""
    if not isinstance(value, float) or value != value:
        return value
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


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
