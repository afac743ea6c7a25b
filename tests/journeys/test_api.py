"""The journeys REST API over the hand-built set written into the graph."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_q.conf import Conf
from rest_framework.test import APIClient

from apps.core import jobs
from apps.core.models import Job
from apps.customers import services as customer_services
from apps.journeys import services
from apps.journeys.models import KpiDefinition, MilestoneDefinition, Webhook
from graph import journeys as graph_journeys
from tests.journeys.conftest import MIN, T0
from tests.problems import field_errors, problem

pytestmark = pytest.mark.usefixtures("journeys_in_graph")


def test_requires_a_key(db):
    assert APIClient().get("/api/journeys/top").status_code in (401, 403)


def test_top_journeys(api_client):
    response = api_client.get("/api/journeys/top", {"steps": 3, "limit": 2})

    assert response.status_code == 200
    assert response.json() == {"total_customers": 6, "max_steps": 3, "journeys": [
        {"steps": ["web_visit", "call", "purchase"], "customers": 2, "share": 0.333333,
         "median_duration_ms": 75 * MIN},
        {"steps": ["call", "call", "chat"], "customers": 1, "share": 0.166667, "median_duration_ms": 1500 * MIN}]}


def test_top_journeys_filtered_by_channel_and_day(api_client):
    response = api_client.get("/api/journeys/top", {"steps": 2, "channel": "phone", "until": "2026-01-05"})

    assert [(j["steps"], j["customers"]) for j in response.json()["journeys"]] == [
        (["call"], 4), (["call", "call"], 1)]


def test_top_journeys_filtered_by_segment_and_milestone(api_client):
    customer_services.set_attributes({"c1": {"segment": "gold"}, "c4": {"segment": "gold"}})
    MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type", event_type="purchase")
    services.backfill_milestones()

    gold = api_client.get("/api/journeys/top", {"steps": 1, "segment": "gold"}).json()
    buyers = api_client.get("/api/journeys/top", {"steps": 1, "milestone": "purchase"}).json()

    assert [(j["steps"], j["customers"]) for j in gold["journeys"]] == [(["call"], 1), (["web_visit"], 1)]
    assert [(j["steps"], j["customers"]) for j in buyers["journeys"]] == [(["web_visit"], 2), (["call"], 1)]


def test_a_segment_no_customer_is_in_is_a_400_naming_the_segments_there_are(api_client):
    before = api_client.get("/api/journeys/top", {"segment": "gold"})
    customer_services.set_attributes({"c1": {"segment": "gold"}, "c4": {"segment": "bronze"}})

    mistyped = api_client.get("/api/journeys/top", {"segment": "gld"})

    assert field_errors(before) == {"segment": ["unknown segment 'gold'; known: none: no customer has a segment"]}
    assert field_errors(mistyped) == {"segment": ["unknown segment 'gld'; known: bronze, gold"]}


def test_top_journeys_filtered_by_an_attribute_compare_its_text(api_client):
    # given customers whose attribute `tier` is a number, its text, a longer number or a nested key's
    customer_services.set_attributes({"c1": {"tier": 5}, "c2": {"tier": "5"}, "c3": {"tier": 55},
                                      "c4": {"tier": "gold", "extra": {"tier": "5"}},
                                      "c5": {"vip": True, "city": "Zürich"}, "c6": {}})

    def customers(attribute: str) -> int:
        answer = api_client.get("/api/journeys/top", {"steps": 1, "attribute": attribute})
        assert answer.status_code == 200, answer.content
        return int(answer.json()["total_customers"])

    # then a filter keeps the customers whose attribute reads as the text given, whatever its JSON type
    assert [customers(a) for a in ("tier:5", "tier:gold", "vip:True", "city:Zürich", "vip:None", "tier:6")] == [
        2, 1, 1, 1, 5, 0]
    # and the store hands over only the customers whose attributes hold the name and the value's text
    assert sorted(graph_journeys.customer_attributes(mentioning={"tier": "5"})) == ["c1", "c2", "c3", "c4"]
    assert sorted(graph_journeys.customer_attributes(mentioning={"city": "Zürich", "vip": "True"})) == ["c5"]
    assert sorted(graph_journeys.customer_attributes(["c1", "c5"], mentioning={"tier": "5"})) == ["c1"]


@pytest.mark.parametrize("params, field, message", [
    ({"steps": 0}, "steps", "greater than or equal to 1"),
    ({"since": "yesterday"}, "since", "'yesterday' is not an ISO date or date-time"),
    ({"since": "2026-01-06", "until": "2026-01-05"}, "until", "must be after since"),
    ({"attribute": "gold"}, "attribute", "use key:value"),
])
def test_bad_filters_are_400_naming_the_parameter(api_client, params, field, message):
    response = api_client.get("/api/journeys/top", params)

    assert message in field_errors(response)[field][0]


def test_paths_for_a_sankey(api_client):
    response = api_client.get("/api/journeys/paths", {"start_event": "web_visit", "steps": 3, "min_count": 2})

    body = response.json()
    assert [(n["id"], n["customers"]) for n in body["nodes"]] == [
        ("1:web_visit", 5), ("2:call", 2), ("2:other", 2), ("3:purchase", 2), ("3:other", 1)]
    assert body["links"][0] == {"source": "1:web_visit", "target": "2:call", "customers": 2}
    assert [s["dropped"] for s in body["steps"]] == [1, 1, 3]


def test_paths_with_cleaning_rules(api_client):
    response = api_client.get("/api/journeys/paths", {"steps": 2, "clean": [r"^(call|chat)$=>assisted"]})

    assert [(n["id"], n["customers"]) for n in response.json()["nodes"]] == [
        ("1:web_visit", 4), ("1:assisted", 2), ("2:assisted", 4), ("2:web_visit", 1)]


def test_paths_refuse_two_anchors_and_bad_rules(api_client):
    both = api_client.get("/api/journeys/paths", {"start_event": "a", "end_event": "b"})
    bad_rule = api_client.get("/api/journeys/paths", {"clean": "no arrow"})
    bad_regex = api_client.get("/api/journeys/paths", {"clean": "(=>x"})

    assert field_errors(both) == {"end_event": ["give start_event or end_event, not both"]}
    assert field_errors(bad_rule) == {"clean": ["'no arrow': use 'regex=>replacement'"]}
    assert "is not a valid regular expression" in problem(bad_regex)["detail"]


def test_funnel_and_drill_down(api_client):
    steps = "web_visit,call,purchase"

    funnel = api_client.get("/api/journeys/funnel", {"steps": steps, "by_channel": "true"}).json()
    windowed = api_client.get("/api/journeys/funnel", {"steps": steps, "window_hours": 0.75}).json()
    dropped = api_client.get("/api/journeys/funnel/customers", {"steps": steps, "step": 2, "dropped": "true"}).json()

    assert [(s["customers"], s["conversion_from_start"]) for s in funnel["steps"]] == [(5, 1.0), (3, 0.6), (2, 0.4)]
    assert funnel["conversion"] == 0.4
    assert funnel["steps"][1]["median_ms_from_previous"] == 20 * MIN
    assert {ch: [s["customers"] for s in v] for ch, v in funnel["by_channel"].items()} == {
        "app": [1, 1, 0], "web": [4, 2, 2]}
    assert [s["customers"] for s in windowed["steps"]] == [5, 3, 0]
    assert dropped == {"count": 1, "next": None, "previous": None, "results": ["c3"]}
    entered_on_app = api_client.get("/api/journeys/funnel/customers", {"steps": steps, "step": 1,
                                                                        "entry_channel": "app"}).json()
    assert entered_on_app["results"] == ["c3"]  # the one whose web visit was in the app
    # an entry channel no event carries answered an empty page
    assert field_errors(api_client.get("/api/journeys/funnel/customers", {"steps": steps, "step": 1,
                                                                           "entry_channel": "fax"})) == {
        "entry_channel": ["unknown event channel(s) 'fax'; known: app, chat, phone, web"]}


def test_funnel_errors(api_client):
    missing = api_client.get("/api/journeys/funnel")
    step_out_of_range = api_client.get("/api/journeys/funnel/customers", {"steps": "a,b", "step": 3})

    assert field_errors(missing) == {"steps": ["This field is required."]}
    assert field_errors(step_out_of_range) == {"step": ["the funnel has 2 steps"]}


def test_dfg(api_client):
    body = api_client.get("/api/journeys/dfg").json()

    assert body["edges"][:2] == [{"source": "call", "target": "purchase", "count": 2},
                                 {"source": "web_visit", "target": "call", "count": 2}]
    assert len(body["edges"]) == 8
    assert body["start"] == {"call": 2, "web_visit": 4}


def test_similarity_by_customer_and_by_sequence(api_client):
    by_customer = api_client.get("/api/similarity", {"customer_id": "c1", "threshold": 0.2, "k": 3}).json()
    by_sequence = api_client.get("/api/similarity", {"sequence": "call,chat", "threshold": 0.25}).json()

    assert by_customer["similar_customers"] == 3
    assert [(m["customer_id"], m["score"]) for m in by_customer["top"]] == [("c2", 1.0), ("c4", 0.333333),
                                                                             ("c3", 0.2)]
    assert by_customer["top"][0]["shared"] == [["web_visit", "call", "purchase"]]
    assert [(m["customer_id"], m["score"]) for m in by_sequence["top"]] == [("c6", 0.6), ("c3", 0.285714)]


def test_similarity_errors(api_client):
    assert api_client.get("/api/similarity", {"customer_id": "nobody"}).status_code == 404
    assert field_errors(api_client.get("/api/similarity")) == {
        "customer_id": ["give customer_id or sequence (not both)"]}
    mistyped = api_client.get("/api/similarity", {"sequence": "call,chta"})
    assert field_errors(mistyped) == {
        "sequence": ["unknown event type(s) 'chta'; known: call, chat, purchase, web_visit"]}


def test_similarity_index_follows_ingest(api_client):
    api_client.get("/api/similarity", {"customer_id": "c1"})  # builds the index
    from tests.journeys.conftest import write_journeys
    write_journeys([("c7", 4000, "web_visit", "web", None), ("c7", 4010, "call", "phone", None),
                    ("c7", 4020, "purchase", "web", None)])
    services.on_events_ingested(["c7"], recompute=False)

    body = api_client.get("/api/similarity", {"customer_id": "c1", "threshold": 1.0}).json()

    assert [m["customer_id"] for m in body["top"]] == ["c2", "c7"]


@pytest.fixture
def contacts(db) -> KpiDefinition:
    definition = KpiDefinition.objects.create(name="Contacts per customer", slug="contacts",
                                              kind="contacts_per_customer", unit="")
    services.recompute_kpis()
    return definition


def test_kpi_definitions_and_series(api_client, contacts):
    listing = api_client.get("/api/kpis/").json()["results"]
    series = api_client.get("/api/kpis/contacts/series").json()
    phone = api_client.get("/api/kpis/contacts/series", {"dimension": "channel", "value": "phone"}).json()

    assert [k["slug"] for k in listing] == ["contacts"]
    assert [(p["period_start"], p["value"]) for p in series["points"]] == [
        ("2026-01-05", 2.4), ("2026-01-06", 1.5), ("2026-01-07", 1.0)]
    assert series["points"][0]["numerator"] == 12 and series["points"][0]["denominator"] == 5
    assert series["dimensions"]["channel"] == ["app", "chat", "phone", "web"]
    assert [(p["period_start"], p["value"]) for p in phone["points"]] == [("2026-01-05", 1.2)]


def test_kpi_series_errors(api_client, contacts):
    assert api_client.get("/api/kpis/nope/series").status_code == 404
    assert field_errors(api_client.get("/api/kpis/contacts/series", {"dimension": "channel"})) == {
        "value": ["name the channel to show"]}
    # a value with no dimension was answered with the overall series
    assert field_errors(api_client.get("/api/kpis/contacts/series", {"value": "phone"})) == {
        "value": ["'phone' needs a dimension (channel or segment) to belong to"]}
    assert "period" in field_errors(api_client.get("/api/kpis/contacts/series", {"period": "month"}))


def test_kpi_widget_html_is_framable_by_same_origin_and_json(api_client, contacts):
    html = api_client.get("/api/kpis/contacts/widget", HTTP_ACCEPT="text/html")
    data = api_client.get("/api/kpis/contacts/widget", {"format": "json"}).json()

    assert html.status_code == 200 and html["X-Frame-Options"] == "SAMEORIGIN"
    assert 'data-kpi="contacts"' in html.content.decode() and ">1<" in html.content.decode()
    assert data["latest"] == {"period_start": "2026-01-07", "value": 1.0}
    assert data["change"] == -0.5


def test_milestones_crud_backfill_and_customers(api_client):
    bad = api_client.post("/api/milestones/", {"name": "Buy", "slug": "buy", "trigger": "sequence",
                                               "sequence": ["purchase"]}, format="json")
    good = api_client.post("/api/milestones/", {"name": "Buy", "slug": "buy", "trigger": "sequence",
                                                "sequence": ["web_visit", "purchase"]}, format="json")
    backfill = api_client.post("/api/milestones/buy/backfill/")  # jobs run at once in tests (JOBS_SYNC)
    customers = api_client.get("/api/milestones/buy/customers/").json()

    assert "at least two event types" in field_errors(bad)["sequence"][0]
    assert good.status_code == 201
    assert (backfill.status_code, backfill.json()["status"]) == (202, "succeeded")
    assert backfill.json()["result"] == {"buy": 3}
    assert [(r["customer_id"], r["ts"]) for r in customers["results"]] == [
        ("c1", T0 + 60 * MIN), ("c2", T0 + 90 * MIN), ("c4", T0 + 1500 * MIN)]
    assert api_client.get("/api/milestones/buy/").json()["reached"] == 3


def test_a_field_a_milestone_or_webhook_does_not_have_is_refused_by_name(api_client, settings):  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type", event_type="purchase")
    hook = api_client.post("/api/webhooks", {"name": "crm", "url": "http://127.0.0.1:9/hook", "secret": "long-enough"},
                           format="json").json()

    mistyped = api_client.patch("/api/milestones/purchase", {"activ": False}, format="json")
    round_trip = api_client.get("/api/milestones/purchase").json()
    sent_back = api_client.put("/api/milestones/purchase", {**round_trip, "active": False}, format="json")
    hook_typo = api_client.patch(f"/api/webhooks/{hook['id']}", {"milestone": ["purchase"]}, format="json")

    assert mistyped.status_code == 400
    assert mistyped.json()["errors"] == [{"field": "activ", "code": "unknown_field", "detail": (
        "not a field of this request; its fields: slug, name, trigger, event_type, sequence, window_seconds, "
        "attribute, op, value, active")}]
    assert sent_back.status_code == 200 and sent_back.json()["active"] is False  # its read-only fields ignored
    assert hook_typo.status_code == 400
    assert hook_typo.json()["detail"] == ("milestone: not a field of this request; its fields: name, url, secret, "
                                          "active, milestones")
    assert list(Webhook.objects.get().milestones.all()) == []


def test_webhooks_hide_their_secret(api_client, settings):  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type", event_type="purchase")

    created = api_client.post("/api/webhooks/", {"name": "crm", "url": "http://127.0.0.1:9/hook",
                                                 "secret": "long-enough", "milestones": ["purchase"]}, format="json")
    services.backfill_milestones()
    deliveries = api_client.get(f"/api/webhooks/{created.json()['id']}/deliveries/").json()

    assert created.status_code == 201 and "secret" not in created.json()
    assert Webhook.objects.get().secret == "long-enough"
    assert [d["status"] for d in deliveries["results"]] == ["pending"] * 3


def test_rates_with_a_percent_unit_show_as_percentages(api_client):
    KpiDefinition.objects.create(name="Abandonment", slug="abandonment", kind="abandonment", unit="%")
    services.recompute_kpis()

    widget = api_client.get("/api/kpis/abandonment/widget", {"format": "json"}).json()
    series = api_client.get("/api/kpis/abandonment/series").json()

    assert widget["points"][0] == {"period_start": "2026-01-05", "value": 8.3333}
    assert series["points"][0]["value"] == 0.083333  # stored as numerator / denominator


def test_similarity_catches_up_with_events_ingested_elsewhere(api_client):
    from tests.journeys.conftest import write_journeys

    api_client.get("/api/similarity", {"customer_id": "c1"})  # builds the index
    write_journeys([("c5", 3000, "call", "phone", None), ("c5", 3010, "purchase", "web", None)])

    body = api_client.get("/api/similarity", {"customer_id": "c1", "threshold": 1.0}).json()

    assert [m["customer_id"] for m in body["top"]] == ["c2", "c5"]


def test_similarity_with_lsh_candidates_switched_on(api_client, settings):
    from apps.journeys import index

    settings.JOURNEYS_SIMILARITY_LSH_PERMS = 64
    index.reset()

    body = api_client.get("/api/similarity", {"customer_id": "c1", "threshold": 0.9}).json()

    assert [(m["customer_id"], m["score"]) for m in body["top"]] == [("c2", 1.0)]


def test_a_backfill_is_a_job_whose_status_url_answers_until_the_worker_has_run_it(
        api_client, monkeypatch, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: a worker process runs the queue
    MilestoneDefinition.objects.create(name="Buy", slug="buy", trigger="sequence", sequence=["web_visit", "purchase"])

    # when a backfill is asked for while no worker runs
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/milestones/buy/backfill/")

    # then the answer is 202 with the queued job and where to poll it, and nothing is reached yet
    job = Job.objects.get()
    body = response.json()
    assert response.status_code == 202
    assert (body["id"], body["kind"], body["ref"], body["status"]) == (job.pk, "milestone_backfill", "buy", "queued")
    assert body["status_url"] == f"http://testserver/api/jobs/{job.pk}" == response["Location"]
    assert api_client.get(f"/api/jobs/{job.pk}").json()["status"] == "queued"
    assert api_client.get("/api/milestones/buy/").json()["reached"] == 0

    # when the worker runs it
    assert jobs.execute(job.pk) == "succeeded"

    # then its status says what it did, the milestone is reached, and the dashboard lists the job
    polled = api_client.get(f"/api/jobs/{job.pk}").json()
    assert (polled["status"], polled["attempts"], polled["result"], polled["error"]) == ("succeeded", 1, {"buy": 3}, "")
    assert api_client.get("/api/milestones/buy/").json()["reached"] == 3
    person = Client()
    person.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456"))
    rows = person.get("/ingest/?format=csv&table=jobs").content.decode().splitlines()
    assert rows[1].startswith(f"{job.pk},milestone_backfill,succeeded,1/3,")


def test_a_backfill_of_a_milestone_deleted_before_the_worker_ran_fails_at_once_saying_why(
        api_client, monkeypatch, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: a worker process runs the queue
    MilestoneDefinition.objects.create(name="Buy", slug="buy", trigger="sequence", sequence=["web_visit", "purchase"])
    # given a backfill queued, then its milestone deleted before a worker ran it
    with django_capture_on_commit_callbacks(execute=True):
        job_id = api_client.post("/api/milestones/buy/backfill/").json()["id"]
    assert api_client.delete("/api/milestones/buy/").status_code == 204
    # when the worker runs it
    outcome = jobs.execute(job_id)
    # then the job fails on its first attempt, with the reason on its row, and no retry is scheduled
    polled = api_client.get(f"/api/jobs/{job_id}").json()
    assert outcome == "failed"
    assert (polled["status"], polled["attempts"], polled["error"]) == ("failed", 1, "unknown milestone slug(s): buy")
    assert Job.objects.get(pk=job_id).next_attempt is None
    assert jobs.execute(job_id) == "nothing to do"


def test_a_backfill_that_fails_for_another_reason_is_tried_again_later(db, settings):  # type: ignore[no-untyped-def]
    # given a backfill of a known milestone while the analytics engine cannot start (misconfigured)
    MilestoneDefinition.objects.create(name="Buy", slug="buy", trigger="sequence", sequence=["web_visit", "purchase"])
    settings.ANALYTICS_ENGINE = "nope"
    job = Job.objects.create(kind="milestone_backfill", func="apps.journeys.tasks.backfill_milestones", args=[["buy"]],
                             max_attempts=3)
    # when the worker runs it, then the attempt is recorded and another is scheduled (the fault may pass)
    assert jobs.execute(job.pk) == "retrying"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error.splitlines()[0]) == (
        "retrying", 1, "ANALYTICS_ENGINE must be one of duckdb, spark, got 'nope'")
    assert job.next_attempt is not None


def test_a_backfill_job_given_something_other_than_slugs_fails_at_once_naming_it(db):  # type: ignore[no-untyped-def]
    # given a job row whose argument is a bare string (not a list of slugs)
    job = Job.objects.create(kind="milestone_backfill", func="apps.journeys.tasks.backfill_milestones", args=["buy"],
                             max_attempts=3)
    # when the worker runs it, then it fails on the first attempt naming what it got
    assert jobs.execute(job.pk) == "failed"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (
        "failed", 1, "slugs: expected a list of milestone slugs, got 'buy'")


def test_a_job_that_does_not_exist_is_a_404_naming_it(api_client):
    response = api_client.get("/api/jobs/999")
    assert (response.status_code, response.json()["detail"]) == (404, "no job 999")
