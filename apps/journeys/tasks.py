"""Journeys' background jobs (apps.core.jobs): milestone backfills and KPI recomputes queued from the
admin, and the recurring ones the worker's scheduler runs (webhook delivery, stale KPI days).
The management commands call the same services."""
from __future__ import annotations

import logging

from apps.core import jobs
from apps.core.models import Job
from apps.journeys import selectors, services, webhooks

log = logging.getLogger(__name__)


def backfill_milestones(slugs: list[str]) -> dict[str, int]:
    """The job. Input no attempt can fix (not a list of slugs, a slug no definition has: deleted since
    it was queued) fails it at once with the reason on its row; anything else (the event store
    unreachable) raises as it is, so the job is tried again with backoff."""
    if not isinstance(slugs, list) or not all(isinstance(slug, str) and slug for slug in slugs):
        raise jobs.Permanent(f"slugs: expected a list of milestone slugs, got {slugs!r}"[:500])
    try:
        counts = services.backfill_milestones(slugs=slugs)
    except services.UnknownMilestone as exc:
        raise jobs.Permanent(str(exc)) from exc
    log.info("milestone backfill: %s", ", ".join(f"{slug} {n} new" for slug, n in counts.items()) or "nothing")
    return counts


def queue_backfill(*, slugs: list[str]) -> Job:
    return jobs.enqueue(backfill_milestones, sorted(slugs), kind="milestone_backfill", ref=",".join(sorted(slugs)))


def recompute_kpis(slugs: list[str]) -> int:
    """The job: the KPIs named (every active one for an empty list), as `manage.py recompute_kpis` does.
    Input no attempt can fix (not a list of slugs, a slug no definition has) fails it at once with the
    reason on its row; anything else raises as it is, so the job is tried again with backoff."""
    if not isinstance(slugs, list) or not all(isinstance(slug, str) and slug for slug in slugs):
        raise jobs.Permanent(f"slugs: expected a list of KPI slugs, got {slugs!r}"[:500])
    try:
        definitions = selectors.kpi_definitions(slugs)
    except selectors.UnknownKpi as exc:
        raise jobs.Permanent(str(exc)) from exc
    result = services.recompute_kpis(definitions=definitions)
    log.info("KPI recompute: %s value(s) for %s KPI(s)", result.values, result.definitions)
    return result.values


def queue_kpi_recompute(*, slugs: list[str]) -> Job:
    return jobs.enqueue(recompute_kpis, sorted(slugs), kind="kpi_recompute", ref=",".join(sorted(slugs)))


@jobs.every(1, "deliver webhooks", kind="webhook_delivery")
def deliver_webhooks() -> int:
    """Post every due webhook payload; failures are rescheduled per delivery (apps.journeys.webhooks)."""
    report = webhooks.deliver_due()
    if report.attempted:
        log.info("webhooks: %s attempted, %s delivered, %s rescheduled, %s failed", report.attempted,
                 report.delivered, report.rescheduled, report.failed)
    return report.delivered


@jobs.every(15, "recompute stale KPI days", kind="kpi_recompute")
def recompute_stale_kpis() -> int:
    """The days ingest marked stale, recomputed (what `recompute_kpis --stale` does)."""
    result = services.recompute_stale_kpis()
    if result.values:
        log.info("stale KPI days: %s value(s) written", result.values)
    return result.values
