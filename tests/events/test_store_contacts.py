"""The contacts table (conversation summaries beside the events) under `events_store check | rebuild`:
counts and a content hash per day against the graph's contact summaries, every difference named,
and rebuild writing it again from the graph."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.events import contacts, maintenance, store
from tests.conversations.conftest import loaded  # noqa: F401

pytestmark = pytest.mark.django_db


def _table() -> dict[str, tuple]:  # type: ignore[type-arg]
    return {r["event_id"]: (r["customer_id"], r["sentiment_customer"], r["categories"])
            for r in contacts.read_contacts().to_pylist()}


def test_attached_summaries_check_equal_and_the_summary_counts_them(loaded) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    out = StringIO()

    call_command("events_store", "check", stdout=out)

    assert out.getvalue().splitlines()[-1].endswith(", contacts graph 3, table 3: equal")
    assert sorted(_table()) == ["c-callback-1", "c-chat-1", "c-voice-1"]


def test_check_names_each_contacts_difference_and_rebuild_writes_the_table_again(loaded) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    # given the table lost c-chat-1, holds another sentiment for c-voice-1 and a row for an unknown event
    rows = {r["event_id"]: r for r in contacts.read_contacts().to_pylist()}
    expected = _table()
    store.delete(contacts.contact_files())
    contacts.write_summaries([{**rows["c-callback-1"]}, {**rows["c-voice-1"], "sentiment_customer": -4.0},
                              {**rows["c-voice-1"], "event_id": "ghost-1"}])

    # when the store is checked
    report = maintenance.check()

    # then each difference is named by the day of the contact's event (c-voice-1's is 2026-11-02,
    # c-chat-1's 2026-11-03)
    assert report.differences == [
        "contacts 2026-11-02: graph 1 summaries, table 1 (same count, different content)",
        "contacts 2026-11-02: 1 different in the table: c-voice-1",
        "contacts 2026-11-03: graph 1 summaries, table 0",
        "contacts 2026-11-03: 1 missing from the table: c-chat-1",
        "contacts: 1 in the table for events without a summary in the graph: ghost-1"]
    with pytest.raises(CommandError, match="contacts graph 3, table 3: 5 differences"):
        call_command("events_store", "check", stdout=StringIO())

    # when the store is rebuilt
    maintenance.rebuild()

    # then the table is the graph's again, in one file, and check finds nothing
    assert _table() == expected
    assert len(contacts.contact_files()) == 1
    assert maintenance.check().equal
