"""Events written outside an ingest run — decision feedback, a replay's history — reach the event store
through the same copy as ingest, after their graph write commits: `events_store check` finds nothing."""
from __future__ import annotations

from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from apps.core import jobs
from apps.core.models import Job
from apps.decisions.models import DecisionLog
from apps.decisions.replay import seed_history
from apps.events import maintenance
from apps.events import store as event_store
from tests.events.conftest import rewrite_lock_held_elsewhere, stored, stored_days

pytestmark = pytest.mark.django_db
T0 = 1_772_618_400_000  # 2026-03-04 10:00 UTC
FEEDBACK = "/api/decisions/intent/feedback"


def _check() -> str:
    out = StringIO()
    call_command("events_store", "check", stdout=out)
    return out.getvalue()


def test_feedback_lands_in_the_store_and_check_reports_no_difference(api_client) -> None:  # type: ignore[no-untyped-def]
    response = api_client.post(FEEDBACK, {"contact_id": "ct-1", "intent": "AC_PA", "customer_id": "c1",
                                          "at_ms": T0}, format="json")

    assert response.status_code == 201
    assert [(r["event_id"], r["customer_id"], r["type"], r["channel"], r["intent"], r["source"])
            for r in stored().to_pylist()] == [("connect-ct-1", "c1", "call", "voice", "AC_PA", "connect_feedback")]
    assert "1 days, graph 1 events, store 1 events: equal" in _check()


def test_a_second_answer_rewrites_the_stored_row_and_check_stays_equal(api_client) -> None:  # type: ignore[no-untyped-def]
    body = {"contact_id": "ct-2", "customer_id": "c1", "at_ms": T0}
    api_client.post(FEEDBACK, {**body, "intent": "AC_NE"}, format="json")

    again = api_client.post(FEEDBACK, {**body, "intent": "CC_CA"}, format="json")

    assert again.json()["updated"] is True
    assert [(r["event_id"], r["intent"]) for r in stored().to_pylist()] == [("connect-ct-2", "CC_CA")]
    assert stored_days() == {"2026-03-04": ["connect-ct-2"]}  # one row, in one file
    assert maintenance.check().equal


def test_the_same_answer_twice_rewrites_nothing(api_client) -> None:  # type: ignore[no-untyped-def]
    body = {"contact_id": "ct-3", "customer_id": "c1", "at_ms": T0, "intent": "AC_NE"}
    api_client.post(FEEDBACK, body, format="json")
    files = sorted(Path(p).name for p in event_store.event_file_uris())

    api_client.post(FEEDBACK, body, format="json")

    assert sorted(Path(p).name for p in event_store.event_file_uris()) == files


def test_feedback_while_the_store_is_unwritable_is_answered_and_a_job_copies_it_later(api_client, settings,  # type: ignore[no-untyped-def]
                                                                                     tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    settings.EVENTS_STORE_URL = str(blocker / "events")
    body = {"contact_id": "ct-4", "customer_id": "c1", "at_ms": T0, "intent": "AC_NE"}

    response = api_client.post(FEEDBACK, body, format="json")

    assert response.status_code == 201  # the graph has the answer: the next prediction uses it
    assert response.json()["event_id"] == "connect-ct-4"
    job = Job.objects.get(kind="events_copy")
    assert (job.ref, job.args, job.status, job.attempts, job.max_attempts) == (
        "connect-ct-4", [["connect-ct-4"]], Job.Status.RETRYING, 1, 8)  # the first try failed as well
    assert "event store: cannot" in job.error
    assert DecisionLog.objects.filter(kind=DecisionLog.Kind.FEEDBACK, contact_id="ct-4").count() == 1

    blocker.unlink()
    assert jobs.execute(job.pk) == "succeeded"

    job.refresh_from_db()
    assert job.result == "1 event(s) copied to the event store in 1 file(s)"
    assert stored_days() == {"2026-03-04": ["connect-ct-4"]}
    assert maintenance.check().equal


def test_the_copy_job_of_the_longest_contact_id_fits_its_row(api_client, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    settings.EVENTS_STORE_URL = str(blocker / "events")
    contact = "x" * 100  # the longest contact id the API takes

    response = api_client.post(FEEDBACK, {"contact_id": contact, "customer_id": "c1", "at_ms": T0,
                                          "intent": "AC_NE"}, format="json")

    assert response.status_code == 201
    job = Job.objects.get(kind="events_copy")
    assert (job.ref, job.args) == (f"connect-{contact}"[:100], [[f"connect-{contact}"]])


def test_a_corrected_answer_the_store_cannot_take_now_is_copied_by_the_job(api_client, settings) -> None:  # type: ignore[no-untyped-def]
    body = {"contact_id": "ct-5", "customer_id": "c1", "at_ms": T0, "intent": "AC_NE"}
    api_client.post(FEEDBACK, body, format="json")
    settings.EVENTS_REWRITE_WAIT_SECONDS = 0

    with rewrite_lock_held_elsewhere(settings.EVENTS_STORE_URL):
        response = api_client.post(FEEDBACK, {**body, "intent": "CC_CA"}, format="json")

    assert (response.status_code, response.json()["updated"]) == (201, True)
    job = Job.objects.get(kind="events_copy")
    assert job.status == Job.Status.RETRYING and "is held by another rewrite" in job.error
    assert [(r["event_id"], r["intent"]) for r in stored().to_pylist()] == [("connect-ct-5", "AC_NE")]

    assert jobs.execute(job.pk) == "succeeded"

    assert [(r["event_id"], r["intent"]) for r in stored().to_pylist()] == [("connect-ct-5", "CC_CA")]
    assert maintenance.check().equal


def test_a_replays_history_lands_in_the_store_in_few_files() -> None:
    history = pd.DataFrame({"customer_id": ["31000", "31000", "31001"], "ts": [T0, T0 + 60_000, T0 + 86_400_000],
                            "intent": ["AC_NE", "AC_AS", "CC_NE"]})

    written = seed_history(history, {"31000", "31001"}, chunk=2)

    assert written == 3
    assert stored_days() == {"2026-03-04": ["replay-31000-1772618400000", "replay-31000-1772618460000"],
                             "2026-03-05": ["replay-31001-1772704800000"]}
    assert "2 days, graph 3 events, store 3 events: equal" in _check()
