"""Charts are plain figure data: what Plotly.js needs to draw, nothing more (no 7 KB default
template per chart, no per-value validation by graph objects on every page view)."""
from __future__ import annotations

import json

import numpy as np

from apps.dashboard import figures


def test_a_line_chart_is_the_traces_and_the_layout_in_plotlys_schema() -> None:
    chart = figures.lines("c", "Calls per day", ["2026-03-01", "2026-03-02"], {"<b>calls</b>": [3, np.int64(4)]})

    assert chart.figure == {
        "data": [{"type": "scatter", "x": ["2026-03-01", "2026-03-02"], "y": [3, 4], "name": "&lt;b&gt;calls&lt;/b&gt;",
                  "mode": "lines+markers", "line": {"color": "#0b6bcb"}}],
        "layout": {"margin": {"l": 40, "r": 10, "t": 30, "b": 40}, "autosize": True, "font": {"size": 12},
                   "legend": {"orientation": "h", "y": -0.2}, "barmode": "group", "yaxis": {"title": ""}}}


def test_bars_and_curves_carry_no_template_and_numpy_values_become_json() -> None:
    bars = figures.bars("b", "Top", ["a", "b"], [np.float64(0.5), 2], x_title="customers")
    roc = figures.curve("r", "ROC", {"v1": (np.array([0.0, 0.5, 1.0]), [0.0, 0.8, 1.0])},
                        x_title="False positive rate", y_title="True positive rate")

    assert bars.figure["data"] == [{"type": "bar", "y": ["a", "b"], "x": [0.5, 2], "orientation": "h",
                                    "marker": {"color": "#0b6bcb"}}]
    assert [t["name"] for t in roc.figure["data"]] == ["reference", "v1"]
    assert roc.figure["data"][1]["x"] == [0.0, 0.5, 1.0]
    assert "template" not in bars.figure["layout"] and "template" not in roc.figure["layout"]
    assert len(json.dumps(roc.figure)) < 1000
