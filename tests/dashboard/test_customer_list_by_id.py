"""The Customers page lists everyone a page at a time by id: its links carry the id to read past, so a
deep page is one graph read like the first (no offset into a sort of every customer)."""
from __future__ import annotations

import re
from html import unescape

from django.test import Client

from tests.dashboard import journeys_data
from tests.dashboard.test_pages import graph_calls_of, rows_of


def links(html: str) -> dict[str, str]:
    return {rel: unescape(href) for href, rel in re.findall(r'<a href="([^"]+)" rel="(next|prev)"', html)}


def test_the_customer_list_pages_by_id_both_ways(viewer: Client) -> None:
    # given customers c1..c6
    journeys_data.load()
    # when a person walks forward two at a time, then back
    first = viewer.get("/customers/", {"limit": "2"}).content.decode()
    second = viewer.get(links(first)["next"]).content.decode()
    third = viewer.get(links(second)["next"]).content.decode()
    back = viewer.get(links(third)["prev"]).content.decode()
    # then
    assert links(first) == {"next": "/customers/?limit=2&after=c2"}
    assert links(second) == {"next": "/customers/?limit=2&after=c4", "prev": "/customers/?limit=2&before=c3"}
    assert links(third) == {"prev": "/customers/?limit=2&before=c5"}
    assert "Customers c3 to c4, by id" in second and "Customers c3 to c4, by id" in back
    assert [r[0] for r in rows_of(viewer.get("/customers/?format=csv&limit=2&after=c4"))[1:]] == ["c5", "c6"]
    assert graph_calls_of(viewer, "/customers/?limit=2&after=c4") == 1
