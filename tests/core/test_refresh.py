"""Stale configuration and active models are re-read off the request's path, never undoing an edit."""
from __future__ import annotations

import threading

import pytest

from apps.core.refresh import refresher
from apps.decisions import config_cache, selectors
from apps.decisions.models import IntentThreshold
from apps.propensity import registry
from apps.propensity.models import ModelVersion
from tests.decisions.factories import history_risk_model

pytestmark = pytest.mark.django_db(transaction=True)  # the re-reading thread sees committed rows only


@pytest.fixture(autouse=True)
def _background(settings):  # type: ignore[no-untyped-def]
    settings.REFRESH_IN_BACKGROUND = True
    settings.DECISIONS_CONFIG_CACHE_SECONDS = 0.0  # every value is stale at once
    config_cache.clear()
    registry.clear_cache()
    yield
    refresher.close()  # waits for the re-reads asked for, then lets the test database go
    config_cache.clear()
    registry.clear_cache()


def test_a_stale_threshold_is_answered_at_once_and_the_new_one_read_beside_the_request() -> None:
    # given thresholds read once, then changed by another process (no save signal here)
    IntentThreshold.objects.create(channel="VOICE", high=0.9, low=0.7)
    assert selectors.thresholds_for("VOICE") == (0.9, 0.7)
    IntentThreshold.objects.filter(channel="VOICE").update(high=0.95)
    # when a decision asks while the value is stale, then it gets the value it had, without waiting
    assert selectors.thresholds_for("VOICE") == (0.9, 0.7)
    # and once the re-read has run, the next decision gets the new one
    refresher.wait()
    assert selectors.thresholds_for("VOICE") == (0.95, 0.7)


def test_a_re_read_under_way_when_an_edit_clears_the_cache_does_not_bring_the_old_value_back() -> None:
    started, release = threading.Event(), threading.Event()

    def slow_old_read() -> str:
        started.set()
        release.wait(10)
        return "old"

    assert config_cache.cached("k", lambda: "first") == "first"
    assert config_cache.cached("k", slow_old_read) == "first"  # stale: re-read in the background
    assert started.wait(10)
    config_cache.clear()  # an edit in this process while the re-read runs
    release.set()
    refresher.wait()
    assert config_cache.cached("k", lambda: "new") == "new"


def test_a_newly_activated_model_is_loaded_beside_the_requests_that_still_use_the_old_one() -> None:
    # given version 1 loaded by this process
    first = registry.register_model(name="risk", model=history_risk_model(), metrics={"auc": 0.9},
                                    baseline_metrics={"prior": {"auc": 0.5}}, features=["avg_call_seconds"],
                                    train_window=(None, None))
    assert registry.load_active("risk", max_age=0).version.version == first.version
    # when another process activates version 2 (no signal reaches this one)
    second = registry.register_model(name="risk", model=history_risk_model(), metrics={"auc": 0.9},
                                     baseline_metrics={"prior": {"auc": 0.5}}, features=["avg_call_seconds"],
                                     train_window=(None, None), activate=False)
    ModelVersion.objects.filter(pk=first.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=second.pk).update(is_active=True)
    # then the next decision still gets version 1 at once, and the one after the re-check version 2
    assert registry.load_active("risk", max_age=0).version.version == first.version
    refresher.wait()
    assert registry.load_active("risk", max_age=0).version.version == second.version


def test_a_key_revoked_elsewhere_is_refused_once_its_entry_is_re_read_and_its_use_is_recorded_beside() -> None:
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    from apps.core.auth import key_cache
    from apps.core.models import ApiKey

    key_cache.clear()
    stored, raw = ApiKey.issue("flow", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get("/api/ping").status_code == 200
    refresher.wait()
    # the use was recorded by the refresh thread, not the request's
    used = ApiKey.objects.get(pk=stored.pk).last_used
    assert used is not None and timezone.now() - used < timedelta(seconds=60)
    # when another process revokes the key (no signal here) and the entry's time is up
    ApiKey.objects.filter(pk=stored.pk).update(revoked=True)
    hashed = next(iter(key_cache._keys))
    key_cache._keys[hashed] = (key_cache._keys[hashed][0], 0.0)
    # then the request that finds it stale is still answered, and the next one refused
    assert client.get("/api/ping").status_code == 200
    refresher.wait()
    assert client.get("/api/ping").status_code == 401
    key_cache.clear()


def test_a_model_re_check_under_way_when_this_process_activates_another_does_not_bring_the_old_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # given version 1 loaded, then a re-check in the background that has read "version 1 is active" and
    # waits at the cache's door
    first = registry.register_model(name="risk", model=history_risk_model(), metrics={"auc": 0.9},
                                    baseline_metrics={"prior": {"auc": 0.5}}, features=["avg_call_seconds"],
                                    train_window=(None, None))
    assert registry.load_active("risk", max_age=0).version.version == first.version
    at_the_door, go_on = threading.Event(), threading.Event()
    lock = registry._cache_lock

    class Door:
        def __enter__(self) -> None:
            if threading.current_thread().name == "refresh-ahead":
                at_the_door.set()
                go_on.wait(10)
            lock.__enter__()

        def __exit__(self, *exc: object) -> None:
            lock.__exit__(*exc)

    monkeypatch.setattr(registry, "_cache_lock", Door())
    assert registry.load_active("risk", max_age=0).version.version == first.version  # stale: re-checked beside
    assert at_the_door.wait(10)
    # when this process activates version 2 meanwhile, and then the re-check goes on
    second = registry.register_model(name="risk", model=history_risk_model(), metrics={"auc": 0.9},
                                     baseline_metrics={"prior": {"auc": 0.5}}, features=["avg_call_seconds"],
                                     train_window=(None, None))
    go_on.set()
    refresher.wait()
    # then version 2 is what decisions get, not the version 1 the re-check read before the activation
    assert registry.load_active("risk", max_age=3600).version.version == second.version


def test_re_reads_share_one_connection_until_one_fails_and_the_next_opens_a_fresh_one() -> None:
    from django.db import OperationalError, connection

    from apps.core.refresh import Refresher

    seen: list[object] = []  # the driver's connections themselves, so none is freed and its id reused

    def read() -> None:
        connection.ensure_connection()
        seen.append(connection.connection)

    def broken() -> None:
        read()
        raise OperationalError("server closed the connection unexpectedly")

    background = Refresher()
    for key, job in (("a", read), ("b", read), ("c", broken), ("d", read)):
        background.request(key, job)
        background.wait()
    background.close()

    # one connection for the re-reads in turn (CONN_MAX_AGE is 0: a request would close it after each);
    # the broken re-read ran twice, the second time on a fresh connection
    assert len(seen) == 5 and seen[0] is seen[1] is seen[2]
    # closed after each failure: a fresh one. Django never closes SQLite's in-memory test database (it
    # would be lost), so the PostgreSQL pass is the one that sees this
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    assert (seen[3] is seen[2] and seen[4] is seen[3]) if in_memory else (
        seen[3] is not seen[2] and seen[4] is not seen[3])


def test_a_re_read_whose_kept_connection_died_runs_again_at_once_and_nothing_is_logged(caplog) -> None:  # type: ignore[no-untyped-def]
    from django.db import OperationalError

    from apps.core.refresh import Refresher

    # given a re-read that finds its kept connection dead once (the database restarted meanwhile)
    tries: list[int] = []

    def read_once_the_connection_is_fresh() -> None:
        tries.append(len(tries))
        if len(tries) == 1:
            raise OperationalError("terminating connection due to administrator command")

    # when it runs in the background, and then a re-read that fails whatever its connection
    def always_refused() -> None:
        tries.append(-1)
        raise OperationalError("could not connect to server")

    background = Refresher()
    with caplog.at_level("WARNING", logger="apps.core.refresh"):
        background.request("stale", read_once_the_connection_is_fresh)
        background.wait()
        first = [r.getMessage() for r in caplog.records]
        background.request("down", always_refused)
        background.wait()
    background.close()

    # then the first ran again at once and succeeded, with no warning; the second, refused twice, is logged once
    assert first == []
    assert tries == [0, 1, -1, -1]
    assert [r.getMessage() for r in caplog.records] == ["refreshing 'down' failed; the value in use is kept"]
