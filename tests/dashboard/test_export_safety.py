"""Data that looks like markup or a formula stays text: in Plotly charts and in CSV downloads."""
from __future__ import annotations

import csv
import io
from types import SimpleNamespace

from apps.dashboard import figures
from apps.dashboard.tables import Column, Table, csv_response
from apps.journeys.analyzers.paths import PathLink, PathNode

LINK = "<a href='https://evil.example/'>win</a>"
SHOWN = "&lt;a href='https://evil.example/'&gt;win&lt;/a&gt;"


def test_bar_labels_and_series_names_are_escaped_for_plotly() -> None:
    chart = figures.bars("top", "Top journeys", [LINK, "call"], [3, 2])
    assert chart.figure["data"][0]["y"] == [SHOWN, "call"]
    lines = figures.lines("mix", "Mix", ["2026-01-01"], {LINK: [1.0]})
    assert lines.figure["data"][0]["name"] == SHOWN
    # the table beside the chart keeps the real value (the template escapes it as HTML)
    assert chart.table is not None and chart.table.rows[0]["name"] == LINK


def test_sankey_labels_and_hover_texts_are_escaped_while_click_ids_stay_raw() -> None:
    nodes = (PathNode(id=f"1:{LINK}", step=1, label=LINK, customers=4, dropped=0),
             PathNode(id="2:call", step=2, label="call", customers=4, dropped=4))
    result = SimpleNamespace(nodes=nodes, links=(PathLink(source=f"1:{LINK}", target="2:call", customers=4),))
    trace = figures.sankey("paths", "Paths", result).figure["data"][0]
    assert trace["node"]["label"] == [f"{SHOWN} (4)", "call (4)"]
    assert trace["node"]["customdata"] == [f"step 1: {SHOWN}", "step 2: call"]
    assert trace["link"]["customdata"] == [f"1:{SHOWN} → 2:call"]
    meta = figures.sankey("paths", "Paths", result).figure["layout"]["meta"]
    assert meta["nodes"] == [f"1:{LINK}", "2:call"]


def test_csv_cells_that_spreadsheets_would_run_are_written_as_text() -> None:
    rows = [{"name": "=HYPERLINK(\"http://x\",\"y\")", "value": -3}, {"name": "+1", "value": -0.5},
            {"name": "-2+3", "value": 1}, {"name": "@SUM(A1)", "value": 2}, {"name": "\tx", "value": 3},
            {"name": "\rx", "value": 4}, {"name": "plain - text", "value": 5}, {"name": ["=a", "b"], "value": 6}]
    table = Table("t", "T", [Column("name", "=Name"), Column("value", "Value", True)], rows)
    body = csv_response(table).content.decode()
    assert list(csv.reader(io.StringIO(body, newline=""))) == [
        ["'=Name", "Value"], ["'=HYPERLINK(\"http://x\",\"y\")", "-3"], ["'+1", "-0.5"], ["'-2+3", "1"],
        ["'@SUM(A1)", "2"], ["'\tx", "3"], ["'\rx", "4"], ["plain - text", "5"], ["'=a > b", "6"]]
