"""The demo data set: a retail bank's customers across web, app, voice, chat and email.

Pure and deterministic: the same shared data, customer count and seed give the same records in the
same order, so re-loading changes nothing (ingest is idempotent by event id) and tests can pin a hash.
Customers are the real users of `intents/users.csv`; those with calls come first, in a seeded order,
and a customer's events depend only on the seed and their own id, so a larger demo contains a smaller one.

Records are in the ingest format: customer_id, event_id, event_type, channel, timestamp (epoch ms),
phone / email / account_id (as the channel would see them), intent, outcome, and free attributes
(topic, step of the call in its intent's sequence, score for CSAT surveys, verification, method,
session_id, merchant, amount, reason, about_event).

Only contacts carry an `intent`, and it is the shared data set's `<INTENT>_<SUBINTENT>` code (HL_AS,
CC_LC, ...; FR_DS for a fraud dispute), so the next-intent model sees the same vocabulary in the graph
as in the data set; every related event names its readable `topic` (home_loan, credit_card, account,
fixed_deposit, life_insurance, trading_account, fraud_dispute), and call event types do too
(call_home_loan, ...).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from apps.demo import catalog as c
from apps.demo.journeys import Identity, build_journey
from apps.demo.sources import DemoDataError, SeedData, User, read_seed_data

DEFAULT_CUSTOMERS = 3000
DEFAULT_SEED = 20261125
# Every SHARE_*th customer shares that identifier with the customer before it (household phone,
# shared inbox, joint account): the signals the risk model reads from the graph.
SHARE_PHONE_EVERY = 37
SHARE_EMAIL_EVERY = 61
SHARE_ACCOUNT_EVERY = 47
MOBILE_BLOCKS = "01236"  # 040x-043x and 046x: allocated Australian mobile ranges, so numbers validate


@dataclass(frozen=True)
class Profile:
    customer_id: str
    name: str
    segment: str
    age: int
    job: str
    marital: str
    education: str
    deposit: bool
    phone: str
    email: str
    account_id: str

    def attributes(self) -> dict[str, Any]:
        """What the graph keeps on the customer vertex (identifiers live on their own vertices)."""
        return {"name": self.name, "segment": self.segment, "age": self.age, "job": self.job,
                "marital": self.marital, "education": self.education, "term_deposit": self.deposit}


@lru_cache(maxsize=2)
def _seed_data(shared_data_dir: str) -> SeedData:
    return read_seed_data(Path(shared_data_dir))


def _select(data: SeedData, customers: int, seed: int) -> list[User]:
    if customers < 1 or customers > len(data.users):
        raise DemoDataError(f"customers must be between 1 and {len(data.users)} (the users in users.csv), "
                            f"got {customers}")
    callers = [u for u in data.users if u.user_id in data.calls]
    silent = [u for u in data.users if u.user_id not in data.calls]
    random.Random(f"{seed}:callers").shuffle(callers)
    random.Random(f"{seed}:silent").shuffle(silent)
    return (callers + silent)[:customers]


def _own_profile(user: User, seed: int) -> Profile:
    rng = random.Random(f"{seed}:{user.user_id}:profile")
    first, last = rng.choice(c.FIRST_NAMES), rng.choice(c.LAST_NAMES)
    number = int(user.user_id)
    handle = f"{first}.{last}".lower().replace("'", "")
    return Profile(
        customer_id=user.user_id, name=f"{first} {last}",
        segment=c.segment_for(age=user.age, job=user.job, deposit=user.deposit),
        age=user.age, job=user.job, marital=user.marital, education=user.education, deposit=user.deposit,
        # 7919 and 104729 are prime, so these maps are one-to-one: no accidental sharing.
        phone=f"+614{MOBILE_BLOCKS[number % len(MOBILE_BLOCKS)]}{(number * 7919 + seed) % 10**7:07d}",
        email=f"{handle}{number}@{c.EMAIL_DOMAINS[number % len(c.EMAIL_DOMAINS)]}",
        account_id=f"ACC{(number * 104729 + seed) % 10**8:08d}",
    )


def _profiles(users: Sequence[User], seed: int) -> list[tuple[Profile, bool]]:
    """Profiles with the deliberate sharing applied; the flag marks customers sharing an identifier."""
    result: list[tuple[Profile, bool]] = []
    for position, user in enumerate(users, 1):
        profile = _own_profile(user, seed)
        shared = {}
        if result:
            previous = result[-1][0]
            if position % SHARE_PHONE_EVERY == 0:
                shared["phone"] = previous.phone
            if position % SHARE_EMAIL_EVERY == 0:
                shared["email"] = previous.email
            if position % SHARE_ACCOUNT_EVERY == 0:
                shared["account_id"] = previous.account_id
        if shared:
            profile = Profile(**{**profile.__dict__, **shared})
        result.append((profile, bool(shared)))
    return result


def demo_profiles(*, shared_data_dir: Path | str, customers: int = DEFAULT_CUSTOMERS,
                  seed: int = DEFAULT_SEED) -> list[Profile]:
    """The demo's customers with their demographics, segment, name and identifiers."""
    data = _seed_data(str(shared_data_dir))
    return [p for p, _ in _profiles(_select(data, customers, seed), seed)]


def build_demo_events(*, shared_data_dir: Path | str, customers: int = DEFAULT_CUSTOMERS,
                      seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """Every demo event as an ingest record, customer by customer, each customer's in time order."""
    data = _seed_data(str(shared_data_dir))
    tokens = tuple(sorted({t for row in data.touchpoints for t in row.observed + row.following}))
    # Another seed is another data set: its event ids must not collide with the default one's.
    prefix = "demo" if seed == DEFAULT_SEED else f"demo{seed}"
    records: list[dict[str, Any]] = []
    for profile, risky in _profiles(_select(data, customers, seed), seed):
        rng = random.Random(f"{seed}:{profile.customer_id}:journey")
        who = Identity(customer_id=profile.customer_id, id_prefix=prefix, phone=profile.phone, email=profile.email,
                       account_id=profile.account_id, age=profile.age, deposit=profile.deposit, risky=risky)
        touchpoint = data.touchpoints[rng.randrange(len(data.touchpoints))]
        journey = build_journey(who=who, calls=data.calls.get(profile.customer_id, ()), touchpoint=touchpoint,
                                tokens=tokens, rng=rng)
        records.extend(sorted(journey, key=lambda r: (r["timestamp"], r["event_id"])))
    return records
