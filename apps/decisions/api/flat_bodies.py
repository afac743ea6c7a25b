"""The decision serializers' own checks for an ordinary body, without DRF's machinery around them.

DRF's `is_valid` costs a decision 40-85 µs of interpreter time (its field loop, error bookkeeping,
lazy messages and Django's e-mail validator), about a tenth of what the request holds the lock for.
`FlatBody` reads a serializer's fields once and answers exactly what `is_valid` + `validated_data`
would for the bodies contact flows send: each value a string (or a whole number for an integer
field), trimmed, within its length, free of NUL and lone surrogates, a channel in its list, an e-mail
that Django's validator accepts (remembered per address), then the serializer's own `validate()`.
Anything else (a field the serializer does not have, a number where text belongs, a float, null, an IP
address, an unknown field type, a value that fails) gives None, and the caller lets DRF judge the body
and word the error. A property test holds the two to the same answers.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers
from rest_framework.fields import empty

from apps.core.problems import TextField
from apps.decisions.api import serializers as s

Check = Callable[[Any], Any]
REFUSED = object()  # a value the fast checks do not accept: DRF decides


class FlatBody:
    """`validated_data` of one request serializer for an ordinary body, or None (see the module)."""

    def __init__(self, serializer: type[s.CallerWaitingSerializer]) -> None:
        self.blank = serializer()
        self.checks: dict[str, tuple[Check, Any]] = {}
        self.names = frozenset(self.blank.fields)
        for name, field in self.blank.fields.items():
            check = _check_for(field)
            if check is None or field.read_only or field.source != name or (
                    field.default is not empty and callable(field.default)):
                self.checks = {}
                self.usable = False
                return
            missing = REFUSED if field.required else (field.default if field.default is not empty else empty)
            self.checks[name] = (check, missing)
        self.usable = True

    def validated(self, data: dict[str, Any]) -> dict[str, Any] | None:
        if not self.usable or not self.names.issuperset(data):
            return None
        attrs: dict[str, Any] = {}
        for name, (check, missing) in self.checks.items():
            if name in data:
                value = check(data[name])
            elif missing is empty:
                continue
            else:
                value = missing
            if value is REFUSED:
                return None
            attrs[name] = value
        try:
            return dict(self.blank.validate(attrs))
        except serializers.ValidationError:
            return None


def _check_for(field: serializers.Field) -> Check | None:
    """The check of one field's value, for the field types the decision bodies use; None for others."""
    if isinstance(field, s._ChannelField):
        return _channel_check(field)
    if isinstance(field, serializers.EmailField):
        return _text_check(field, _email_ok)
    if isinstance(field, serializers.IPAddressField):
        return _blank_only(field)
    if type(field) is TextField:
        return _text_check(field, None)
    if type(field) is serializers.IntegerField:
        return _integer_check(field)
    return None


def _text_check(field: serializers.CharField, accepts: Callable[[str], bool] | None) -> Check:
    allow_blank, max_length = field.allow_blank, field.max_length

    def check(value: Any) -> Any:
        if type(value) is not str:
            return REFUSED
        text = value.strip() if field.trim_whitespace else value
        if not text:
            return "" if allow_blank else REFUSED
        if max_length is not None and len(text) > max_length or not _clean(text):
            return REFUSED
        return text if accepts is None or accepts(text) else REFUSED
    return check


def _blank_only(field: serializers.CharField) -> Check:
    """A blank value where blank is allowed; any other value is DRF's to parse."""
    def check(value: Any) -> Any:
        return "" if field.allow_blank and type(value) is str and not value.strip() else REFUSED
    return check


def _channel_check(field: serializers.CharField) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not str:
            return REFUSED
        text = value.strip().upper()
        if not text and field.allow_blank:
            return ""
        return text if text in s.CHANNELS else REFUSED
    return check


def _integer_check(field: serializers.IntegerField) -> Check:
    low, high = field.min_value, field.max_value

    def check(value: Any) -> Any:
        if type(value) is not int or (low is not None and value < low) or (high is not None and value > high):
            return REFUSED
        return value
    return check


def _clean(text: str) -> bool:
    """No NUL and no lone surrogate: DRF's two validators on every text field."""
    if "\x00" in text:
        return False
    return text.isascii() or not any("\ud800" <= ch <= "\udfff" for ch in text)


_email_validator = EmailValidator()


@lru_cache(maxsize=65536)
def _email_ok(address: str) -> bool:
    """Django's e-mail validator (the one DRF's EmailField runs), remembered per address: a caller's
    address repeats on every call, and the validator is most of the risk body's check."""
    try:
        _email_validator(address)
    except DjangoValidationError:
        return False
    return True
