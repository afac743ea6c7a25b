"""The suite's second pass, on PostgreSQL, keeps exactly the tests that can reach the database."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def collect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_only_tests_with_the_marker_or_a_database_fixture_are_kept() -> None:
    # given a module whose tests use `db`, `transactional_db` or nothing, and one whose tests use the marker
    # when the second pass collects them
    done = collect("--database-tests-only", "tests/decisions/test_replay.py",
                   "tests/conversations/test_local_analytics.py::test_category_rules_follow_speaker_place_and_negation",
                   "tests/conversations/test_local_analytics.py::"
                   "test_generic_transcript_with_its_customer_becomes_an_analysed_contact_event")
    # then the three with a database fixture and the marked one are kept, the two without are left out
    # (pytest-django runs the transactional ones last)
    kept = sorted(line for line in done.stdout.splitlines() if "::" in line)
    assert kept == [
        "tests/conversations/test_local_analytics.py::"
        "test_generic_transcript_with_its_customer_becomes_an_analysed_contact_event",
        "tests/decisions/test_replay.py::test_a_day_without_calls_is_refused",
        "tests/decisions/test_replay.py::test_replay_prints_a_table_beside_the_baselines",
        "tests/decisions/test_replay.py::test_replay_routes_known_callers_and_the_fallback_holds_when_the_hub_stops",
    ], done.stdout + done.stderr
    assert "4/6 tests collected (2 deselected)" in done.stdout


def test_a_selection_with_no_database_test_is_refused_rather_than_passing_empty() -> None:
    # when the second pass is given only tests that never reach the database
    done = collect("--database-tests-only", "tests/ops/test_openloop.py")
    # then pytest stops with a usage error naming the option, instead of "no tests ran"
    assert done.returncode == 4, done.stdout + done.stderr
    assert "--database-tests-only: none of the selected tests can reach the database" in done.stderr
