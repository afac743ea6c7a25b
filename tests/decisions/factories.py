"""Hand-made call histories whose next intent is known, and helpers to put them in the graph."""
from __future__ import annotations

import pandas as pd

from apps.decisions.modeling.intent import IntentModel, examples, sort_calls
from graph import journeys
from graph import schema as s

DAY_MS = 86_400_000
T0 = 1_700_000_000_000
SEQUENCES = {"AC": ["AC_NE", "AC_AS", "AC_PA", "AC_AA", "AC_CS"], "CC": ["CC_NE", "CC_CA", "CC_AA", "CC_LC", "CC_CS"]}


def episode_calls(customers: int = 40) -> pd.DataFrame:
    """Each customer walks one intent's full sequence, one call a day: the next call is certain."""
    rows = []
    for n in range(customers):
        intent = "AC" if n % 2 == 0 else "CC"
        for step, item in enumerate(SEQUENCES[intent]):
            rows.append({"customer_id": f"h{n}", "ts": T0 + n * 1000 + step * DAY_MS, "intent": item})
    return sort_calls(pd.DataFrame(rows))


def fitted_model(customers: int = 40) -> IntentModel:
    return IntentModel().fit(examples(episode_calls(customers)))


def write_calls(customer_id: str, items: list[str], *, phone: str | None = None, start: int = T0,
                gap_ms: int = DAY_MS) -> None:
    identifiers = (("phone", phone),) if phone else ()
    journeys.write_events([
        s.EventRecord(event_id=f"{customer_id}-{i}", type="call", channel="voice", ts=start + i * gap_ms,
                      customer_id=customer_id, identifiers=identifiers, source="test", intent=item)
        for i, item in enumerate(items)])


def history_risk_model():  # type: ignore[no-untyped-def]
    """A history risk model fitted on profiles where a short historic call duration means fraud (the
    pattern of the fraud_calls data), small enough to fit in a test."""
    import numpy as np

    from apps.decisions.modeling.risk import HistoryRiskModel

    rng = np.random.default_rng(0)
    fraud = rng.random(600) < 0.2
    profiles = [{"avg_call_seconds": float(rng.choice([5, 8, 15, 30]) if f else rng.choice([530, 780, 830, 915])),
                 "channel": "VOICE" if n % 2 else "CHAT", "email": f"u{n}@example.com"}
                for n, f in enumerate(fraud)]
    labels = fraud.astype(int)
    return HistoryRiskModel().fit(profiles[:450], labels[:450], profiles[450:], labels[450:])
