"""Which parts of a customer are personal data, and how they look to a caller who may not read them.

Names, e-mail addresses, phone numbers and every identifier's value (account numbers, devices,
cookies, Connect profiles) identify a person; segments, demographics bands and scores do not. Callers
without the right to personal data (see apps.core.permissions.can_read_pii) see identifiers by kind
only and customer attributes without the personal ones.
"""
from __future__ import annotations

from typing import Any

REDACTED = "[redacted]"
PERSONAL_ATTRIBUTES = frozenset({
    "name", "first_name", "last_name", "full_name", "email", "e_mail", "phone", "mobile", "address",
    "street", "postcode", "date_of_birth", "dob", "birth_date", "birthday", "national_id", "passport"})


def is_personal_attribute(key: str) -> bool:
    return key.lower() in PERSONAL_ATTRIBUTES


def redact_customer(customer: dict[str, Any]) -> dict[str, Any]:
    """A copy of a serialised customer (`attributes`, `identifiers`) without personal data."""
    out = dict(customer)
    out["attributes"] = {k: v for k, v in (customer.get("attributes") or {}).items() if not is_personal_attribute(k)}
    out["identifiers"] = [{**i, "value": REDACTED} for i in customer.get("identifiers") or []]
    return out
