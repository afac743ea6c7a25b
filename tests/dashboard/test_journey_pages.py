"""Journey explorer, drill-down, top journeys and funnels on a hand-built journey set with known counts."""
from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from apps.customers import services as customer_services
from apps.events.engine import Engine
from apps.journeys import selectors
from apps.journeys.analyzers import drill
from tests.dashboard import journeys_data

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.content.decode())))


PINNED_WEB_ONLY = [["Rank", "Journey", "Customers", "Share of customers %", "Median duration (h)"],
                   ["1", "web_visit", "4", "80", "0"], ["2", "web_visit → loan_application", "1", "20", "2"]]


@pytest.fixture
def loaded() -> None:
    journeys_data.load()


def test_paths_leading_to_a_card_dispute_call(viewer: Client, loaded):
    links = rows_of(viewer.get("/journeys/explorer/?direction=to&event=card_dispute_call&steps=3&format=csv"))
    steps = rows_of(viewer.get("/journeys/explorer/?direction=to&event=card_dispute_call&steps=3&format=csv"
                               "&table=steps"))

    assert links == [["From (step:event)", "To (step:event)", "Customers"],
                     ["2:app_login", "1:card_dispute_call", "3"], ["2:chat", "1:card_dispute_call", "1"],
                     ["3:web_visit", "2:app_login", "2"], ["3:web_visit", "2:chat", "1"]]
    assert steps == [["Step", "Customers", "Dropped here", "Drop-off %"], ["1", "4", "0", "0"],
                     ["2", "4", "1", "25"], ["3", "3", "3", "100"]]


def test_every_box_of_the_chart_is_listed_with_a_keyboard_reachable_drill_link(viewer: Client, loaded):
    url = "/journeys/explorer/?direction=to&event=card_dispute_call&steps=3"

    nodes = rows_of(viewer.get(url + "&format=csv&table=nodes"))
    html = viewer.get(url).content.decode()

    assert nodes == [["Step", "Event", "Customers", "Journey ends here"], ["1", "card_dispute_call", "4", "0"],
                     ["2", "app_login", "3", "1"], ["2", "chat", "1", "0"], ["3", "web_visit", "3", "3"]]
    drill = ("/journeys/explorer/customers/?direction=to&amp;event=card_dispute_call&amp;steps=3&amp;min_count=1"
             "&amp;node=2%3Aapp_login")
    assert f'hx-get="{drill}"' in html


def test_the_page_shows_the_selector_s_numbers(viewer: Client, loaded):
    result = selectors.journey_paths(end_event="card_dispute_call", steps=3)

    html = viewer.get("/journeys/explorer/?direction=to&event=card_dispute_call&steps=3").content.decode()

    assert f"{result.anchored_customers} of {result.total_customers} customers have" in html
    assert (result.anchored_customers, result.total_customers) == (4, 6)
    assert 'role="group" aria-label="Sankey of customer paths to card_dispute_call, 3 steps' in html


def test_clicking_a_link_lists_the_customers_behind_it_as_an_htmx_partial(viewer: Client, loaded):
    response = viewer.get("/journeys/explorer/customers/", {"direction": "to", "event": "card_dispute_call",
                                                            "steps": "3", "link": "3:web_visit|2:app_login"},
                          HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert "<h2 id=\"drill-title\" tabindex=\"-1\">2 customers at step 3: web_visit → step 2: app_login</h2>" in html
    assert '<li><a href="/customers/c1/">c1</a></li><li><a href="/customers/c2/">c2</a></li>' in html
    assert "<html" not in html


def test_the_drill_down_lists_as_many_customers_as_every_node_and_link_counts(loaded):
    frame = selectors.events()
    for options in ({"start_event": None, "min_count": 1}, {"start_event": "web_visit", "min_count": 2}):
        result = selectors.journey_paths(start_event=options["start_event"], steps=3, min_count=options["min_count"])
        kwargs = {"anchor": options["start_event"], "steps": 3, "min_count": options["min_count"]}
        for node in result.nodes:
            found = drill.customers_at(frame, nodes=[drill.NodeRef.parse(node.id)], **kwargs)
            assert len(found) == node.customers, node
        for link in result.links:
            refs = [drill.NodeRef.parse(link.source), drill.NodeRef.parse(link.target)]
            assert len(drill.customers_at(frame, nodes=refs, **kwargs)) == link.customers, link


def test_a_malformed_node_is_a_clear_400(viewer: Client, loaded):
    response = viewer.get("/journeys/explorer/customers/?node=web_visit")

    assert response.status_code == 400
    assert "node &#x27;web_visit&#x27; must look like &lt;step&gt;:&lt;event&gt;, e.g. 2:app_login" in \
        response.content.decode()


def test_a_bad_step_limit_is_explained(viewer: Client, loaded):
    html = viewer.get("/journeys/explorer/?steps=40").content.decode()

    assert "steps: must be between 1 and 20, got 40" in html


def test_filters_by_channel_and_date_are_kept_in_the_url_and_applied(viewer: Client, loaded):
    response = viewer.get("/journeys/top/?max_steps=2&channel=web&since=2026-03-01&until=2026-03-01&format=csv")
    html = viewer.get("/journeys/top/?max_steps=2&channel=web&since=2026-03-01&until=2026-03-01").content.decode()

    assert rows_of(response) == PINNED_WEB_ONLY
    assert '<option value="web" selected>web</option>' in html
    csv_link = "/journeys/top/?max_steps=2&amp;channel=web&amp;since=2026-03-01&amp;until=2026-03-01&amp;format=csv"
    assert f'href="{csv_link}"' in html


def test_a_date_range_with_nothing_in_it_shows_no_journeys_and_says_why(viewer: Client, loaded):
    html = viewer.get("/journeys/top/?since=2026-04-01&channel=web").content.decode()

    assert rows_of(viewer.get("/journeys/top/?since=2026-04-01&format=csv"))[1:] == []
    assert ('<p class="error" role="alert">No events match these filters (from 2026-04-01; channels web). '
            'Widen the dates or clear a filter.</p>') in html


def test_a_segment_no_customer_is_in_is_named_with_the_segments_there_are(viewer: Client, loaded):
    customer_services.set_attributes({"c1": {"segment": "gold"}, "c2": {"segment": "silver"}})

    html = viewer.get("/journeys/top/?segment=gld").content.decode()
    csv = viewer.get("/journeys/top/?segment=gold&format=csv")

    assert "unknown segment &#x27;gld&#x27;; known: gold, silver" in html
    assert rows_of(csv)[1:] == [["1", "web_visit → app_login → card_dispute_call", "1", "100", "2"]]


def test_a_backwards_date_range_is_explained(viewer: Client, loaded):
    html = viewer.get("/journeys/top/?since=2026-03-02&until=2026-03-01").content.decode()

    assert "until (2026-03-01) is before since (2026-03-02)" in html


def test_top_journeys_rank_by_customers(viewer: Client, loaded):
    rows = rows_of(viewer.get("/journeys/top/?max_steps=3&format=csv"))

    assert rows[1:3] == [["1", "web_visit → app_login → card_dispute_call", "2", "33.33", "2"],
                         ["2", "app_login → card_dispute_call → email", "1", "16.67", "2"]]


def test_a_funnel_gives_conversion_per_step_and_by_channel(analyst: Client, loaded):
    url = "/journeys/funnel/?step=web_visit&step=app_login&step=card_dispute_call"

    funnel = rows_of(analyst.get(url + "&format=csv"))
    by_channel = rows_of(analyst.get(url + "&format=csv&table=by_channel"))

    assert funnel[1:] == [["1", "web_visit", "5", "100", "100", "2", ""],
                          ["2", "app_login", "3", "60", "60", "1", "1"],
                          ["3", "card_dispute_call", "2", "40", "66.67", "0", "1"]]
    assert [r[:4] for r in by_channel[1:]] == [["web", "1", "web_visit", "5"], ["web", "2", "app_login", "3"],
                                              ["web", "3", "card_dispute_call", "2"]]


def test_a_funnel_step_lists_its_customers_and_those_who_dropped(analyst: Client, loaded):
    url = "/journeys/funnel/customers/?step=web_visit&step=app_login&step=card_dispute_call&at=2"

    reached = rows_of(analyst.get(url + "&format=csv"))
    dropped = rows_of(analyst.get(url + "&dropped=1&format=csv"))
    funnel_html = analyst.get("/journeys/funnel/?step=web_visit&step=app_login&step=card_dispute_call").content.decode()

    assert reached == [["Customer"], ["c1"], ["c2"], ["c5"]]
    assert dropped == [["Customer"], ["c5"]]
    assert ('<a href="/journeys/funnel/customers/?step=web_visit&amp;step=app_login&amp;step=card_dispute_call'
            '&amp;at=2">3</a>') in funnel_html


def test_only_analysts_build_funnels(viewer: Client):
    assert viewer.get("/journeys/funnel/?step=a&step=b").status_code == 403



def test_the_similarity_explorer_shows_the_selector_s_count_and_top_journeys(viewer: Client, loaded):
    expected = selectors.similar_journeys(customer_id="c1", threshold=0.2, k=10)

    html = viewer.get("/similarity/?customer=c1&threshold=0.2").content.decode()
    rows = rows_of(viewer.get("/similarity/?customer=c1&threshold=0.2&format=csv"))

    assert f'<span class="value">{expected.similar_customers}</span>' in html
    assert [r[0] for r in rows[1:]] == [s.customer_id for s in expected.top]
    assert rows[1][:2] == ["c2", "1"]


def test_similarity_by_a_typed_sequence(viewer: Client, loaded):
    rows = rows_of(viewer.get("/similarity/?sequence=web_visit, app_login, card_dispute_call&format=csv"))

    assert [r[:2] for r in rows[1:3]] == [["c1", "1"], ["c2", "1"]]


@pytest.mark.parametrize(("query", "message"), [
    # a sequence typed beside the customer the page was opened for was passed over
    ("customer=c1&sequence=web_visit, chat", "give a customer or a sequence, not both"),
    ("customer=c1&threshold=high", "threshold: expected a number, got &#x27;high&#x27;"),
    ("customer=c1&threshold=0", "threshold: must be above 0 and at most 1, got 0.0"),
])
def test_the_similarity_explorer_names_what_it_cannot_use(viewer: Client, loaded, query, message):
    html = viewer.get(f"/similarity/?{query}").content.decode()

    assert f'<p class="error" role="alert">{message}</p>' in html
    assert 'data-card="similar_customers"' not in html


def test_a_typed_sequence_with_an_event_no_one_has_names_it(viewer: Client, loaded):
    html = viewer.get("/similarity/?sequence=web_visit > app_logn").content.decode()

    assert ("unknown event type(s) &#x27;app_logn&#x27;; known: app_login, card_dispute_call, chat, email, "
            "loan_application, web_visit") in html


def test_similarity_for_an_unknown_customer_is_explained(viewer: Client, loaded):
    response = viewer.get("/similarity/?customer=nobody")

    assert response.status_code == 200
    assert 'class="error" role="alert"' in response.content.decode()


def test_an_unknown_event_in_the_explorer_says_so_instead_of_an_empty_chart(viewer: Client, loaded):
    html = viewer.get("/journeys/explorer/?direction=to&event=card_dispute_cal").content.decode()

    assert ("No customer has the event &#x27;card_dispute_cal&#x27; for these filters. Events that exist: "
            "web_visit, app_login, card_dispute_call, email, chat, loan_application.") in html
    assert 'class="chart' not in html and "paths-data" not in html


def test_filters_that_leave_no_events_say_so_instead_of_an_empty_chart(viewer: Client, loaded):
    html = viewer.get("/journeys/explorer/?since=2026-04-01").content.decode()

    assert "No events match these filters (from 2026-04-01). Widen the dates or clear a filter." in html
    assert 'class="chart' not in html


def test_a_funnel_with_an_unknown_step_names_it_instead_of_showing_zero(analyst: Client, loaded):
    html = analyst.get("/journeys/funnel/?step=web_visit&step=apply_loan").content.decode()

    assert ("No customer has the event &#x27;apply_loan&#x27; for these filters, so nobody can reach that step. "
            "Events that exist: ") in html
    assert 'class="chart' not in html


def test_the_channel_filter_offers_only_channels_with_events(viewer: Client, loaded):
    html = viewer.get("/journeys/top/").content.decode()

    options = html[html.index('<select id="f-channel"'):].split("</select>")[0]
    assert [line.split('"')[1] for line in options.split("<option value=")[1:]] == [
        "app", "chat", "email", "voice", "web"]


def test_the_sankey_labels_only_boxes_big_enough_to_hold_a_label(viewer: Client, loaded):
    from apps.dashboard import figures

    result = selectors.journey_paths(steps=3, min_count=1)
    chart = figures.sankey("paths", "paths", result, min_label_share=0.2)

    trace = chart.figure["data"][0]
    labelled = [label for label in trace["node"]["label"] if label]
    assert labelled == ["web_visit (4)", "app_login (3)", "card_dispute_call (3)"]  # boxes of 1 of 6 stay bare
    assert len(trace["node"]["customdata"]) == len(trace["node"]["label"])


def test_drill_down_lists_come_a_page_at_a_time_with_names(viewer: Client, analyst: Client, loaded):
    from graph import journeys

    journeys.set_customer_attributes("c2", {"name": "Jack Jones"})
    partial = viewer.get("/journeys/explorer/customers/", {"direction": "to", "event": "card_dispute_call",
                                                           "steps": "3", "node": "1:card_dispute_call",
                                                           "limit": "2", "offset": "1"},
                         HTTP_HX_REQUEST="true").content.decode()
    funnel = analyst.get("/journeys/funnel/customers/?step=web_visit&step=app_login&at=2&limit=2").content.decode()

    assert "<h2 id=\"drill-title\" tabindex=\"-1\">4 customers at step 1: card_dispute_call</h2>" in partial
    assert "Customers 2–3 of 4" in partial
    assert ('<li><a href="/customers/c2/">Jack Jones</a> <span class="muted">c2</span></li>'
            '<li><a href="/customers/c3/">c3</a></li>') in partial
    assert 'hx-get="/journeys/explorer/customers/?direction=to&amp;event=card_dispute_call&amp;steps=3' in partial
    assert "offset=3" in partial and "offset=0" in partial
    assert '<th scope="col">Name</th>' in funnel and ">Jack Jones</a>" in funnel
    assert "Customers 1–2 of 3" in funnel and "offset=2" in funnel


def test_journey_pages_asked_again_read_no_events(analyst: Client, loaded, monkeypatch):
    """Given each journey page and drill-down asked once, when it is asked again, then the analytics
    engine runs no query: what the page offers (channels with events, event types and their
    customers) and the customers behind a box come from results kept with the engine's, not from the
    whole event log read per request."""
    urls = ["/journeys/explorer/", "/journeys/explorer/?direction=to&event=card_dispute_call",
            "/journeys/top/", "/journeys/funnel/?step=web_visit&step=app_login",
            "/journeys/explorer/customers/?direction=to&event=card_dispute_call&node=1:card_dispute_call",
            "/journeys/funnel/customers/?step=web_visit&step=app_login&at=2"]
    for url in urls:
        assert analyst.get(url).status_code == 200, url
    queries: list[str] = []
    real = Engine.execute
    monkeypatch.setattr(Engine, "execute", lambda self, expr: queries.append(str(expr)[:80]) or real(self, expr))

    statuses = [analyst.get(url).status_code for url in urls]

    assert statuses == [200] * len(urls)
    assert queries == []
