"""Leases in the database (apps.core.leases): the lock processes on different machines share."""
from __future__ import annotations

import io
import threading
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from apps.core import leases
from apps.core.models import Lease

pytestmark = pytest.mark.django_db


class Busy(Exception):
    pass


def test_a_held_lease_refuses_another_holder_until_it_is_let_go() -> None:
    with leases.held("nightly", ttl=60, wait=0, busy=Busy):
        row = Lease.objects.get()
        assert row.name == "nightly" and row.expires - row.taken == timedelta(seconds=60)
        assert leases.take("nightly", "other-host:1:1:x", 60) is False
        with pytest.raises(Busy), leases.held("nightly", ttl=60, wait=0, busy=Busy):
            pass
        assert Lease.objects.get().holder == row.holder  # the refused one changed nothing
    assert not Lease.objects.exists()
    assert leases.take("nightly", "other-host:1:1:x", 60) is True


def test_the_lease_of_a_holder_that_died_is_taken_once_it_expired() -> None:
    past = timezone.now() - timedelta(seconds=1)
    Lease.objects.create(name="nightly", holder="gone-host:7:7:y", taken=past - timedelta(seconds=60), expires=past)

    with leases.held("nightly", ttl=30, wait=0, busy=Busy):
        assert Lease.objects.get().holder.split(":")[0] != "gone-host"

    assert not Lease.objects.exists()


def test_a_lease_is_let_go_when_the_work_it_guards_fails() -> None:
    with pytest.raises(ValueError, match="broken"), leases.held("nightly", ttl=60, wait=0, busy=Busy):
        raise ValueError("broken")
    assert not Lease.objects.exists()


def test_leases_of_other_names_do_not_wait_on_each_other() -> None:
    with leases.held("store a", ttl=60, wait=0, busy=Busy), leases.held("store b", ttl=60, wait=0, busy=Busy):
        assert sorted(Lease.objects.values_list("name", flat=True)) == ["store a", "store b"]


def test_an_admin_sees_who_holds_a_lease_until_when_and_cannot_change_it() -> None:
    User.objects.create_user("ops")
    call_command("grant_role", "ops", "admin", stdout=io.StringIO())  # staff in the "admin" group
    admin = Client()
    admin.force_login(User.objects.get(username="ops"))
    with leases.held("event store rewrite s3://lake/journeys", ttl=60, wait=0, busy=Busy):
        holder = Lease.objects.get().holder
        page = admin.get("/admin/core/lease/")
        change = admin.post(f"/admin/core/lease/{quote(Lease.objects.get().pk)}/change/", {"holder": "me"})

    assert page.status_code == 200
    assert "event store rewrite s3://lake/journeys" in page.content.decode() and holder in page.content.decode()
    assert change.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_of_writers_racing_for_a_free_lease_on_their_own_connections_exactly_one_gets_it() -> None:
    racers = 6
    start = threading.Barrier(racers)
    won: list[str] = []
    refused: list[str] = []

    def race(n: int) -> None:
        try:
            start.wait(timeout=30)
            if leases.take("nightly", f"host-{n}:1:1:t", 60):
                won.append(f"host-{n}:1:1:t")
        except OperationalError as exc:
            refused.append(str(exc))
        finally:
            connection.close()  # each thread had a connection of its own

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # never two; on PostgreSQL exactly one and no error. SQLite's shared in-memory test database may
    # refuse every racer at once (each one's failed write holds the table for a moment)
    on_sqlite = connection.vendor == "sqlite"
    assert len(won) == 1 or (on_sqlite and not won and refused)
    assert list(Lease.objects.values_list("holder", flat=True)) == won
    assert all("locked" in reason for reason in refused) and (on_sqlite or not refused)


@pytest.mark.django_db(transaction=True)
def test_a_lease_is_renewed_while_its_work_goes_on_past_its_ttl() -> None:
    ttl = 0.6
    with leases.held("nightly", ttl=ttl, wait=0, busy=Busy) as holding:
        first = Lease.objects.get()
        assert holding.wait_for(3, timeout=30) is True
        holding.stop()  # SQLite's shared test database: no other writer while this one reads
        row = Lease.objects.get()

    # three renewals, each at least ttl/3 after the one before: the work outlived its first expiry and
    # still held the lease, whose expiry had moved by at least another ttl
    assert timezone.now() > first.expires
    assert row.holder == first.holder and row.taken == first.taken
    assert (row.expires - first.expires).total_seconds() >= ttl * 0.9
    assert holding.renewals >= 3 and holding.lost is False
    assert not Lease.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_work_that_lost_its_lease_to_another_holder_says_so_and_leaves_their_lease_alone() -> None:
    with pytest.raises(leases.LeaseLost, match="'nightly' expired and was taken by another holder"):
        with leases.held("nightly", ttl=3, wait=0, busy=Busy) as holding:
            # as if renewals had failed for ttl and another process took the expired lease
            Lease.objects.update(holder="other-host:9:9:z")
            assert holding.wait_for(1, timeout=30) is True
            assert holding.lost is True and holding.renewals == 0 and not holding.renewing

    assert list(Lease.objects.values_list("holder", flat=True)) == ["other-host:9:9:z"]


def test_a_lease_taken_inside_an_open_transaction_is_not_renewed_from_another_connection() -> None:
    # the test's transaction is open: the row is not committed, and a renewal on its own connection would
    # wait on it (PostgreSQL), and the holder's exit on the renewal
    with leases.held("nightly", ttl=0.3, wait=0, busy=Busy) as holding:
        assert holding.renewing is False
    assert not Lease.objects.exists()
