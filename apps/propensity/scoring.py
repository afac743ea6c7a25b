"""Online scoring: one customer, every active model that scores customers, each with its explanation."""
from __future__ import annotations

from typing import Any

from apps.propensity import registry, selectors
from apps.propensity.journeymodel import UnknownCustomer
from apps.propensity.specs import CustomerJourney, CustomerScore, get_spec, spec_names

__all__ = ["NoActiveModel", "UnknownCustomer", "next_events_for", "score_customer", "score_customer_all_models"]


class NoActiveModel(LookupError):
    """The model asked for has no active version yet."""


def score_customer(name: str, customer_id: str, journey: CustomerJourney | None = None) -> CustomerScore | None:
    """`name`'s active version applied to the customer now, or None when nothing is active.

    `journey` (already read) lets several models share one read of the customer.
    """
    spec = get_spec(name)
    if spec.score_customer is None:
        raise KeyError(f"model {name!r} does not score customers")
    loaded = registry.load_active(name)
    if loaded is None:
        return None
    if journey is not None and spec.score_journey is not None:
        return spec.score_journey(loaded.model, journey, loaded.version.version)
    return spec.score_customer(loaded.model, customer_id, loaded.version.version)


def score_customer_all_models(customer_id: str, models: list[str] | None = None) -> list[CustomerScore]:
    names = models or [n for n in spec_names() if get_spec(n).score_customer is not None]
    journey = selectors.read_customer_journey(customer_id)
    if journey is None:
        raise UnknownCustomer(customer_id)
    scores = [score_customer(name, customer_id, journey) for name in names]
    return [s for s in scores if s is not None]


def next_events_for(customer_id: str, k: int = 3) -> dict[str, Any]:
    """The `k` likeliest next events of the customer's journey so far (or its end), from the active
    next_event version, and whether that version beats its baselines (the activation gate)."""
    from apps.propensity.next_event import END, next_events

    loaded = registry.load_active("next_event")
    if loaded is None:
        raise NoActiveModel("no active next_event model; run `manage.py train next_event`")
    journey = selectors.read_customer_journey(customer_id)
    if journey is None:
        raise UnknownCustomer(customer_id)
    last = journey.events[-1] if journey.events else None
    return {"customer_id": customer_id, "model": "next_event", "version": loaded.version.version,
            "beats_baseline": loaded.qualifies,
            "after": {"event_type": last["type"], "ts": int(last["ts"])} if last else None,
            "next_events": [{"event_type": None if t == END else t, "ends_journey": t == END, "probability": p}
                            for t, p in next_events(loaded.model, journey, k)]}
