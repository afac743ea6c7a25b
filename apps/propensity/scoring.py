"""Online scoring: one customer, every active model that scores customers, each with its explanation."""
from __future__ import annotations

from typing import Any

from apps.propensity import registry, selectors
from apps.propensity.journeymodel import UnknownCustomer
from apps.propensity.specs import CustomerScore, get_spec, spec_names

__all__ = ["UnknownCustomer", "score_customer", "score_customer_all_models"]


def score_customer(name: str, customer_id: str, events: list[dict[str, Any]] | None = None) -> CustomerScore | None:
    """`name`'s active version applied to the customer now, or None when nothing is active.

    `events` (the customer's rows, already read) lets several models share one read of the journey.
    """
    spec = get_spec(name)
    if spec.score_customer is None:
        raise KeyError(f"model {name!r} does not score customers")
    loaded = registry.load_active(name)
    if loaded is None:
        return None
    if events is not None and spec.score_events is not None:
        return spec.score_events(loaded.model, events, loaded.version.version)
    return spec.score_customer(loaded.model, customer_id, loaded.version.version)


def score_customer_all_models(customer_id: str, models: list[str] | None = None) -> list[CustomerScore]:
    names = models or [n for n in spec_names() if get_spec(n).score_customer is not None]
    events = selectors.customer_event_rows(customer_id)
    if not events and not selectors.customer_exists(customer_id):
        raise UnknownCustomer(customer_id)
    scores = [score_customer(name, customer_id, events) for name in names]
    return [s for s in scores if s is not None]
