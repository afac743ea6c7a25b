"""Plotly figures for the dashboard, built from analyzer and selector results (presentation only).

Every chart comes with an accessible label and the table of numbers it draws, so a screen reader or
a person without JavaScript gets the same facts.

Plotly reads a subset of HTML in every text it draws (`<a href>`, `<b>`, `<br>`, `<span style>`), and
event types, channels and model names come from data. Every such text goes through `text()`, which
escapes it so Plotly shows it as written: an event type `<a href=...>` is a label, never a link.
"""
from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.io as pio

from apps.dashboard.tables import Column, Table

PALETTE = ["#0b6bcb", "#e07b00", "#1b7f3b", "#a61b1b", "#6a3d9a", "#008b8b", "#b15928", "#5a6478"]
_MARGIN = {"l": 40, "r": 10, "t": 30, "b": 40}


@dataclass(frozen=True)
class Chart:
    id: str
    label: str
    figure: dict[str, Any]
    table: Table | None = None
    small: bool = False
    drill: str = ""
    drill_query: str = ""
    target: str = ""

    @property
    def data_id(self) -> str:
        return f"{self.id}-data"


def text(value: Any) -> str:
    """A data value as chart text that Plotly shows literally (it decodes the entities, no markup)."""
    return html.escape(str(value), quote=False)


def _figure(traces: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    """A figure in Plotly's schema as JSON-safe plain data (numpy values converted by Plotly's own
    encoder). Plain dicts, not graph objects: those validate every value and carry Plotly's default
    template (7 KB a chart), which cost more than the rest of a page; Plotly.js draws the same."""
    return dict(json.loads(pio.to_json({"data": traces, "layout": layout}, validate=False)))


def _layout(title: str = "", **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {"margin": _MARGIN, "autosize": True, "font": {"size": 12},
                              "legend": {"orientation": "h", "y": -0.2}}
    if title:
        layout["title"] = {"text": text(title), "x": 0}
    layout.update(extra)
    return layout


def lines(chart_id: str, label: str, xs: Sequence[Any], series: Mapping[str, Sequence[float]], *,
          y_title: str = "", stacked: bool = False, kind: str = "line") -> Chart:
    """One line (or stacked bar) per series over shared x values."""
    traces = []
    for i, (name, ys) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        if kind == "bar":
            traces.append({"type": "bar", "x": list(xs), "y": list(ys), "name": text(name), "marker": {"color": color}})
        else:
            traces.append({"type": "scatter", "x": list(xs), "y": list(ys), "name": text(name),
                           "mode": "lines+markers", "line": {"color": color}})
    figure = _figure(traces, _layout(barmode="stack" if stacked else "group", yaxis={"title": text(y_title)}))
    columns = [Column("x", "Period")] + [Column(f"s{i}", name, True) for i, name in enumerate(series)]
    rows = [{"x": x, **{f"s{i}": ys[j] for i, ys in enumerate(series.values())}} for j, x in enumerate(xs)]
    return Chart(id=chart_id, label=label, figure=figure, table=Table(chart_id, label, columns, rows))


def bars(chart_id: str, label: str, names: Sequence[str], values: Sequence[float], *, x_title: str = "",
         horizontal: bool = True) -> Chart:
    shown = [text(n) for n in names]
    marker = {"color": PALETTE[0]}
    if horizontal:
        figure = _figure([{"type": "bar", "y": shown, "x": list(values), "orientation": "h", "marker": marker}],
                         _layout(xaxis={"title": text(x_title)}, yaxis={"autorange": "reversed", "automargin": True}))
    else:
        figure = _figure([{"type": "bar", "x": shown, "y": list(values), "marker": marker}],
                         _layout(yaxis={"title": text(x_title)}))
    table = Table(chart_id, label, [Column("name", "Name"), Column("value", x_title or "Value", True)],
                  [{"name": n, "value": v} for n, v in zip(names, values, strict=True)])
    return Chart(id=chart_id, label=label, figure=figure, table=table)


def sankey(chart_id: str, label: str, result: Any, *, drill: str = "", drill_query: str = "",
           target: str = "", min_label_share: float = 0.03) -> Chart:
    """A path analysis (nodes with id/step/label/customers, links between node ids) as a Sankey.

    Only boxes holding at least `min_label_share` of the first step's customers carry a label: the
    thin ones are too short for text, and their labels would overlap (hover still names them).
    `layout.meta` carries the node and link ids so a click can ask for the customers behind them."""
    nodes = list(result.nodes)
    first_step = sum(n.customers for n in nodes if n.step == min((m.step for m in nodes), default=1))
    big_enough = min_label_share * first_step
    index = {n.id: i for i, n in enumerate(nodes)}
    links = [k for k in result.links if k.source in index and k.target in index]
    steps = [n.step for n in nodes] or [1]
    # One colour per event type across steps, so the same event is recognisable wherever it appears.
    labels = sorted({n.label for n in nodes} - {"other"})
    colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)} | {"other": "#9aa3b2"}
    by_id = {n.id: n for n in nodes}
    trace = {
        "type": "sankey", "arrangement": "fixed",
        "node": {"label": [text(f"{n.label} ({n.customers})") if n.customers >= big_enough else "" for n in nodes],
                 "pad": 12, "thickness": 14,
              "color": [colors[n.label] for n in nodes],
              "customdata": [text(f"step {n.step}: {n.label}") for n in nodes],
              "hovertemplate": "%{customdata}<br>%{value} customers<extra></extra>"},
        "link": {"source": [index[k.source] for k in links], "target": [index[k.target] for k in links],
                 "value": [k.customers for k in links],
                 "color": [_fade(colors[by_id[k.source].label]) for k in links],
                 "customdata": [text(f"{k.source} → {k.target}") for k in links],
                 "hovertemplate": "%{customdata}<br>%{value} customers<extra></extra>"},
    }
    meta = {"nodes": [n.id for n in nodes], "links": [[k.source, k.target] for k in links]}
    per_step = max((steps.count(s) for s in set(steps)), default=1)
    # A plain dict in Plotly's figure schema: a large Sankey skips graph_objects' per-value validation.
    figure = {"data": [trace], "layout": _layout(meta=meta, height=max(380, 34 * per_step))}
    table = Table(chart_id, label, [Column("source", "From (step:event)"), Column("target", "To (step:event)"),
                                    Column("customers", "Customers", True)],
                  [{"source": k.source, "target": k.target, "customers": k.customers} for k in links])
    return Chart(id=chart_id, label=label, figure=figure, table=table, drill=drill,
                 drill_query=drill_query, target=target)


def _fade(hex_color: str, alpha: float = 0.35) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def curve(chart_id: str, label: str, curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
          x_title: str, y_title: str, diagonal: bool = True) -> Chart:
    """ROC or calibration curves: one line per model, with the chance / perfect diagonal."""
    traces: list[dict[str, Any]] = []
    if diagonal:
        traces.append({"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "reference",
                       "line": {"dash": "dot", "color": "#999"}})
    rows: list[dict[str, Any]] = []
    for i, (name, (xs, ys)) in enumerate(curves.items()):
        traces.append({"type": "scatter", "x": list(xs), "y": list(ys), "mode": "lines", "name": text(name),
                       "line": {"color": PALETTE[i % len(PALETTE)]}})
        rows.extend({"series": name, "x": x, "y": y} for x, y in zip(xs, ys, strict=True))
    figure = _figure(traces, _layout(xaxis={"title": text(x_title), "range": [0, 1]},
                                     yaxis={"title": text(y_title), "range": [0, 1]}))
    table = Table(chart_id, label, [Column("series", "Series"), Column("x", x_title, True), Column("y", y_title, True)],
                  rows)
    return Chart(id=chart_id, label=label, figure=figure, table=table)
