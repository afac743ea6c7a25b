"""Where the dashboard gets its numbers: other apps' selectors and services, looked up lazily.

Capabilities arrive app by app; a page whose backing selector is not there yet shows a clear
"not available yet" state instead of failing, so the lookup is by name at call time.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class NotAvailable(Exception):
    """The app or function a page needs is not installed or has no such function yet."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"{what} is not available yet{': ' + detail if detail else ''}")
        self.what = what


def function(module: str, name: str) -> Callable[..., Any]:
    """The callable `module.name`, or NotAvailable naming exactly what is missing."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if not (exc.name and (module == exc.name or module.startswith(exc.name + "."))):
            raise  # the module is there but one of its own imports is broken: a bug to see, not hide
        raise NotAvailable(f"{module}.{name}", str(exc)) from exc
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise NotAvailable(f"{module}.{name}")
    return fn


def call(module: str, name: str, /, **kwargs: Any) -> Any:
    return function(module, name)(**kwargs)


def model(app_label: str, name: str) -> Any:
    """A Django model class of another app, or NotAvailable."""
    from django.apps import apps

    try:
        return apps.get_model(app_label, name)
    except LookupError as exc:
        raise NotAvailable(f"{app_label}.{name}") from exc
