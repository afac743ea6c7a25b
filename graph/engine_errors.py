"""The engine's error messages with TinkerPop's own text in front, for the failures both define.

Clients written against TinkerPop (and its feature scenarios) recognise an error by Gremlin
Server's message; the engine explains the same failure in its own words. Where the two are the
same failure, the client gets TinkerPop's sentence first and the engine's explanation after it.
"""
from __future__ import annotations

import re

_LIST_STEP = re.compile(r"The (\w+)\(\) step takes a (list|list or map|map) as its (incoming value|traversal argument|"
                        r"argument), but got (\w+)")
_FAILED_STEP = re.compile(r"Step #[\d.]+ '(\w+)\(")
_CAST = "Cast exception: expected type"
STRING_STEPS = {"length", "trim", "lTrim", "rTrim", "replace", "split", "substring", "toLower", "toUpper"}


def tinkerpop_text(message: str) -> str | None:
    """TinkerPop's message for an engine failure, or None when TinkerPop defines none for it."""
    found = _LIST_STEP.search(message)
    if found:
        return _list_step(*found.groups())
    failed = _FAILED_STEP.search(message)
    if failed and _CAST in message:
        step = _camel(failed.group(1))
        if step == "concat":
            return "String concat() can only take string as argument"
        if step in STRING_STEPS:
            return f"The {step}() step can only take string as argument"
    return None


def _list_step(step: str, wanted: str, where: str, got: str) -> str:
    if where == "incoming value":
        if got == "null":
            return f"Incoming traverser for {step} step can't be null"
        return f"{step} step can only take an array or an Iterable type for incoming traversers, encountered: {got}"
    if where == "traversal argument":
        if got == "null":
            return f"traversal argument for {step} step must yield an iterable type, not null"
        if wanted == "map":
            return f"{step} step expected provided argument to evaluate to a Map, encountered: {got}"
        return f"traversal argument for {step} step must yield an iterable type, encountered: {got}"
    if got == "null":
        return f"Argument provided for {step} step can't be null"
    if got == "map":
        return "step type mismatch: expected argument to be Iterable but got Map"
    return f"{step} step can only take an array or an Iterable as an argument, encountered: {got}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def with_tinkerpop_text(message: str) -> str:
    text = tinkerpop_text(message)
    return message if text is None else f"{text}\n{message}"
