"""Words for codes: event types and intents as a CX strategist reads them (the code stays on hover).

Intent codes are `<PRODUCT>_<SUB-INTENT>` (HL_AS); the product part is named from the catalog of the
sample bank, the sub-intent code is kept as is. Event types are snake_case names written as words.
"""
from __future__ import annotations

from apps.demo.catalog import FRAUD_DISPUTE, FRAUD_DISPUTE_INTENT, PRODUCTS

PRODUCT_NAMES = {code: product.topic.replace("_", " ") for code, product in PRODUCTS.items()}
PRODUCT_NAMES[FRAUD_DISPUTE_INTENT.split("_")[0]] = FRAUD_DISPUTE.replace("_", " ")


def words(code: str) -> str:
    """`call_fraud_dispute` → `Call fraud dispute`."""
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def event_label(code: str | None) -> str:
    return words(code) if code else ""


def intent_label(code: str | None) -> str:
    """`HL_AS` → `Home loan (AS)`; a code whose product is not in the catalog is written as words."""
    if not code:
        return ""
    product, _, sub = code.partition("_")
    name = PRODUCT_NAMES.get(product)
    if name is None:
        return words(code)
    return f"{name[:1].upper()}{name[1:]} ({sub})" if sub else name[:1].upper() + name[1:]


UNITS = (("_days", "days"), ("_hours", "h"), ("_minutes", "min"), ("_seconds", "s"))
SHARES = ("_rate", "_share", "_ratio", "_fraction")


def reason(feature: str, value: float) -> str:
    """A score reason as words and a rounded value with its unit: `tenure_days` 1998.06 → `Tenure: 1,998
    days (5.5 years)`."""
    name = feature
    for suffix, unit in UNITS:
        if feature.endswith(suffix):
            name = feature[: -len(suffix)]
            shown = f"{value:,.0f} {unit}" if abs(value) >= 10 else f"{value:,.1f} {unit}"
            if unit == "days" and abs(value) >= 730:
                shown += f" ({value / 365.25:.1f} years)"
            return f"{words(name)}: {shown}"
    if feature.endswith(SHARES) and 0 <= value <= 1:
        return f"{words(feature)}: {value:.0%}"
    if float(value).is_integer():
        return f"{words(feature)}: {int(value):,}"
    return f"{words(feature)}: {value:,.2f}"
