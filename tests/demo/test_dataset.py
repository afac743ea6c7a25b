"""The demo data set generator: deterministic, realistic in shape, and valid ingest input."""
from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import phonenumbers
import pytest
from django.conf import settings

from apps.demo import catalog
from apps.demo.dataset import build_demo_events, demo_profiles
from apps.demo.journeys import HORIZON_MS, WINDOW_START_MS
from apps.demo.sources import DemoDataError
from apps.ingest.mapping import Mapping, to_record


@pytest.fixture(scope="module")
def small() -> list[dict]:
    return build_demo_events(shared_data_dir=settings.DATA_DIR, customers=50)


@pytest.fixture(scope="module")
def medium() -> list[dict]:
    return build_demo_events(shared_data_dir=settings.DATA_DIR, customers=300)


def _digest(records: list[dict]) -> str:
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


def test_same_seed_gives_identical_records(shared_data: Path, small: list[dict]) -> None:
    # given the same shared data, size and seed / when generated again
    again = build_demo_events(shared_data_dir=shared_data, customers=50, seed=20261125)
    # then the records are identical, down to a pinned hash
    assert again == small
    assert len(small) == 977
    assert _digest(small) == "506240d8f7c879d88453d3acbd02ec61b701b1384ae12ee72fd2bf317ad0547c"


def test_another_seed_gives_another_data_set(shared_data: Path, small: list[dict]) -> None:
    other = build_demo_events(shared_data_dir=shared_data, customers=50, seed=7)
    assert _digest(other) != _digest(small)
    assert not {r["event_id"] for r in other} & {r["event_id"] for r in small}
    assert other[0]["event_id"].startswith("demo7-")


def test_a_larger_demo_contains_the_smaller_one(small: list[dict], medium: list[dict]) -> None:
    assert medium[:len(small)] == small


def test_channels_and_intents_have_the_promised_counts(small: list[dict]) -> None:
    channels = Counter(r["channel"] for r in small)
    topics = Counter(r["topic"] for r in small if "topic" in r)
    intents = Counter(r["intent"].split("_")[0] for r in small if "intent" in r)
    assert dict(channels) == {"app": 379, "chat": 61, "email": 99, "voice": 254, "web": 184}
    assert dict(topics) == {"account": 86, "credit_card": 44, "fixed_deposit": 124, "fraud_dispute": 9,
                            "home_loan": 65, "life_insurance": 87, "trading_account": 124}
    assert dict(intents) == {"AC": 41, "CC": 20, "FD": 54, "FR": 3, "HL": 31, "LI": 38, "TA": 55}
    assert len({r["customer_id"] for r in small}) == 50


def test_journey_ingredients_are_all_present(small: list[dict]) -> None:
    types = Counter(r["event_type"] for r in small)
    assert types["survey_response"] == 79
    assert types["complaint"] == 24
    assert types["churned"] == 2
    assert types[catalog.DISPUTE_CALL] + types[catalog.DISPUTE_CHAT] == 3
    assert [types[p.conversion] for p in catalog.PRODUCTS.values()] == [2, 4, 5, 7, 3, 4]
    # every failed identity check is an event of its own, and marks the call it belongs to
    assert types["verification"] == 8
    assert sum(1 for r in small if r.get("verification") == "failed") == 8


def test_every_record_passes_ingest_validation(medium: list[dict]) -> None:
    mapping = Mapping()
    records = [to_record(r, mapping, source="demo") for r in medium]
    assert len(records) == len(medium)
    assert len({r.event_id for r in records}) == len(medium)
    assert all(WINDOW_START_MS - 60 * 86_400_000 <= r.ts < HORIZON_MS for r in records)
    assert {r.channel for r in records} == set(catalog.CHANNELS)


def test_voice_backbone_is_the_real_call_history(shared_data: Path, small: list[dict]) -> None:
    # given the shared interactions file
    real: dict[str, set[tuple[str, int]]] = defaultdict(set)
    with (shared_data / "intents" / "interactions.csv").open() as handle:
        for row in csv.DictReader(handle):
            real[row["USER_ID"]].add((row["ITEM_ID"], int(row["TIMESTAMP"]) * 1000))
    # when the demo's calls are collected per customer
    calls: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for r in small:
        if r["event_type"].startswith(catalog.CALL_PREFIX) and r["event_type"] != catalog.DISPUTE_CALL:
            calls[r["customer_id"]].add((r["intent"], r["timestamp"]))
    # then every customer's calls are exactly their recorded calls
    assert calls == {customer: real[customer] for customer in calls}
    assert len(calls) == 50


def test_identifiers_are_well_formed_and_some_are_shared(small: list[dict]) -> None:
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in small:
        for kind in ("phone", "email", "account_id"):
            if kind in r:
                owners[(kind, r[kind])].add(r["customer_id"])
    phones = [value for kind, value in owners if kind == "phone"]
    assert all(p.startswith("+614") and phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    shared = {key: sorted(who) for key, who in owners.items() if len(who) > 1}
    assert shared == {("phone", "+61420525848"): ["37917", "38724"],
                      ("account_id", "ACC60310783"): ["33802", "35318"]}


def test_card_disputes_end_with_a_fraud_dispute(medium: list[dict]) -> None:
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for r in medium:
        by_customer[r["customer_id"]].append(r)
    locked = [c for c, events in by_customer.items() if any(e["event_type"] == "card_locked" for e in events)]
    assert len(locked) == 29
    for customer in locked:
        types = [e["event_type"] for e in by_customer[customer]]
        after_lock = types[types.index("card_locked") + 1:]
        assert {catalog.DISPUTE_CALL, catalog.DISPUTE_CHAT} & set(after_lock)
        start = types.index("card_locked") - 2
        assert types[start:start + 3] == list(catalog.DISPUTE_STEPS)


def test_churners_fall_silent(medium: list[dict]) -> None:
    last_ts: dict[str, int] = {}
    churned_at: dict[str, int] = {}
    for r in medium:
        last_ts[r["customer_id"]] = max(last_ts.get(r["customer_id"], 0), r["timestamp"])
        if r["event_type"] == catalog.CHURNED:
            churned_at[r["customer_id"]] = r["timestamp"]
    assert len(churned_at) == 19
    assert all(last_ts[c] == ts for c, ts in churned_at.items())


def test_surveys_carry_a_csat_score(small: list[dict]) -> None:
    scores = Counter(r["score"] for r in small if r["event_type"] == catalog.SURVEY)
    assert dict(scores) == {1: 8, 2: 12, 3: 8, 4: 30, 5: 21}


def test_profiles_come_from_users_csv(shared_data: Path) -> None:
    profiles = demo_profiles(shared_data_dir=shared_data, customers=50)
    assert len(profiles) == 50
    first = profiles[0]
    assert first.customer_id == "39702"
    assert first.attributes() == {"name": first.name, "segment": "everyday", "age": 56, "job": "management",
                                   "marital": "married", "education": "tertiary", "term_deposit": False}
    assert {p.segment for p in profiles} <= {"youth", "retiree", "premier", "small_business", "everyday"}


def test_asking_for_more_customers_than_users_is_refused(shared_data: Path) -> None:
    with pytest.raises(DemoDataError, match="between 1 and 11162"):
        build_demo_events(shared_data_dir=shared_data, customers=20_000)


def test_a_missing_data_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(DemoDataError, match=str(tmp_path / "intents" / "users.csv")):
        build_demo_events(shared_data_dir=tmp_path, customers=5)
