"""The KPI store: full recompute from the graph, segments from customer attributes, and the
incremental recompute the ingest hook triggers."""
from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django_q.conf import Conf

from apps.core import jobs
from apps.core.models import Job
from apps.customers import services as customer_services
from apps.journeys import services, tasks
from apps.journeys.models import KpiDefinition, KpiStaleDay, KpiValue, MilestoneDefinition
from tests.journeys.conftest import MIN, T0, write_journeys

JAN5, JAN6, JAN7 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)


def stored(slug: str, period: str = "day", dimension: str = "all") -> dict:
    return {(v.period_start, v.dimension_value): v.value for v in
            KpiValue.objects.filter(definition__slug=slug, period=period, dimension=dimension)}


@pytest.fixture(autouse=True)
def recompute_without_waiting(settings) -> None:
    settings.JOURNEYS_KPI_SYNC_SECONDS = 0


@pytest.fixture
def contacts(db) -> KpiDefinition:
    return KpiDefinition.objects.create(name="Contacts per customer", slug="contacts", kind="contacts_per_customer")


def test_recompute_fills_days_weeks_channels_and_segments(journeys_in_graph, contacts):
    customer_services.set_attributes({"c1": {"segment": "gold"}, "c2": {"segment": "gold"}})

    call_command("recompute_kpis")

    assert stored("contacts") == {(JAN5, ""): 2.4, (JAN6, ""): 1.5, (JAN7, ""): 1.0}
    assert stored("contacts", "week") == {(JAN5, ""): 2.666667}
    assert stored("contacts", "week", "segment") == {(JAN5, "gold"): 3.0, (JAN5, ""): 2.5}
    assert stored("contacts", "day", "channel")[(JAN5, "phone")] == 1.2


def test_ingest_hook_recomputes_only_the_days_it_touched(journeys_in_graph, contacts):
    services.recompute_kpis()
    KpiValue.objects.filter(period_start=JAN5, period="day").update(value=-1)  # a marker the hook must not touch
    write_journeys([("c5", 2900, "call", "phone", None)])

    follow_up = services.on_events_ingested(["c5"], event_ts=[T0 + 2900 * MIN])

    assert follow_up.kpi_days_marked == 1
    assert stored("contacts") == {(JAN5, ""): -1, (JAN6, ""): 1.5, (JAN7, ""): 2.0}
    assert stored("contacts", "week") == {(JAN5, ""): 2.833333}
    assert KpiStaleDay.objects.count() == 0


def test_milestone_conversion_uses_reaches(journeys_in_graph, db):
    MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type", event_type="purchase")
    services.backfill_milestones()
    KpiDefinition.objects.create(name="Purchase rate", slug="purchase-rate", kind="milestone_conversion",
                                 params={"milestone": "purchase"})

    services.recompute_kpis()

    assert stored("purchase-rate") == {(JAN5, ""): 0.4, (JAN6, ""): 0.5, (JAN7, ""): 0.0}


def test_definition_params_are_validated(db):
    definition = KpiDefinition(name="x", slug="x", kind="milestone_conversion", params={})
    with pytest.raises(ValidationError, match="milestone_conversion needs"):
        definition.full_clean()
    definition.params = {"milestone": "m", "window": 3}
    with pytest.raises(ValidationError, match="unknown KPI parameter\\(s\\) window"):
        definition.full_clean()


def test_bulk_loads_leave_kpis_marked_for_the_command(journeys_in_graph, contacts, capsys):
    follow_up = services.on_events_ingested(["c1", "c4", "c5", "c6"])  # events on 3 days: at the limit, so recomputed
    write_journeys([("c1", 4320, "call", "phone", None), ("c1", 5760, "call", "phone", None)])
    bulk = services.on_events_ingested(["c1", "c4", "c5", "c6"])  # now 5 days: left for the command

    assert follow_up.kpi_values_written > 0 and bulk.kpi_values_written == 0
    assert KpiStaleDay.objects.count() == 5
    call_command("recompute_kpis", "--stale")
    assert KpiStaleDay.objects.count() == 0
    assert stored("contacts")[(date(2026, 1, 9), "")] == 1.0


def test_small_batches_wait_for_the_sync_interval(journeys_in_graph, contacts, settings):
    settings.JOURNEYS_KPI_SYNC_SECONDS = 60
    write_journeys([("c5", 2900, "call", "phone", None)])

    follow_up = services.on_events_ingested(["c5"], event_ts=[T0 + 2900 * MIN])

    assert (follow_up.kpi_days_marked, follow_up.kpi_values_written) == (1, 0)
    assert KpiStaleDay.objects.count() == 1


@pytest.fixture
def queued_for_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: the job waits for a worker to run it


def test_a_queued_recompute_fills_the_kpis_it_names(journeys_in_graph, contacts, queued_for_a_worker):
    # given a recompute of one KPI queued (the admin's action)
    job = tasks.queue_kpi_recompute(slugs=["contacts"])
    # when the worker runs it, then the KPI's values are stored and the job says how many
    assert jobs.execute(job.pk) == "succeeded"
    assert stored("contacts") == {(JAN5, ""): 2.4, (JAN6, ""): 1.5, (JAN7, ""): 1.0}
    assert Job.objects.get(pk=job.pk).result == KpiValue.objects.count()


def test_a_recompute_of_a_kpi_deleted_since_it_was_queued_fails_at_once_naming_it(journeys_in_graph, contacts,
                                                                                 queued_for_a_worker):
    # given a recompute of two KPIs queued, then one of them deleted
    KpiDefinition.objects.create(name="Gone", slug="gone", kind="contacts_per_customer")
    job = tasks.queue_kpi_recompute(slugs=["contacts", "gone"])
    KpiDefinition.objects.filter(slug="gone").delete()
    # when the worker runs it, then it fails on the first attempt with the reason, and nothing is stored
    assert jobs.execute(job.pk) == "failed"
    failed = Job.objects.get(pk=job.pk)
    assert (failed.status, failed.attempts, failed.error, failed.next_attempt) == (
        "failed", 1, "unknown KPI slug(s): gone", None)
    assert KpiValue.objects.count() == 0


def test_a_recompute_given_something_other_than_slugs_fails_at_once_naming_it(db):
    job = Job.objects.create(kind="kpi_recompute", func="apps.journeys.tasks.recompute_kpis", args=["contacts"],
                             max_attempts=3)
    assert jobs.execute(job.pk) == "failed"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("failed", 1, "slugs: expected a list of KPI slugs, got 'contacts'")


def test_the_command_names_an_unknown_kpi(contacts):
    with pytest.raises(CommandError, match=r"^unknown KPI slug\(s\): gone, lost$"):
        call_command("recompute_kpis", "contacts", "lost", "gone")
