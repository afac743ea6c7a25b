"""Readers for the shared seed data sets the demo is built on.

The demo's voice channel is the real call history of `intents/` (users.csv demographics, calls with
their intents and timestamps) and its browsing context is the real token sequences of `touchpoints/`,
so the journeys the dashboard shows keep the shape of data someone actually recorded.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


class DemoDataError(ValueError):
    """The shared data directory is missing a file or a file does not have the documented shape."""


@dataclass(frozen=True)
class User:
    user_id: str
    age: int
    job: str
    marital: str
    education: str
    deposit: bool


@dataclass(frozen=True)
class Call:
    item_id: str  # `<INTENT>_<SUBINTENT>`, e.g. HL_AS
    ts_ms: int


@dataclass(frozen=True)
class TouchpointRow:
    observed: tuple[str, ...]
    following: tuple[str, ...]


@dataclass(frozen=True)
class SeedData:
    users: tuple[User, ...]
    calls: dict[str, tuple[Call, ...]]  # user id → calls in time order
    touchpoints: tuple[TouchpointRow, ...]


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DemoDataError(f"demo seed file not found: {path} (the sample data sets live in data/; "
                            "is DATA_DIR pointing elsewhere?)")
    return path


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with _require(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DemoDataError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)


def read_users(shared_data_dir: Path) -> tuple[User, ...]:
    path = shared_data_dir / "intents" / "users.csv"
    users = []
    for number, row in enumerate(_rows(path, ("USER_ID", "deposit", "age", "job", "marital", "education")), 2):
        try:
            users.append(User(user_id=row["USER_ID"], age=int(row["age"]), job=row["job"].rstrip("."),
                              marital=row["marital"], education=row["education"], deposit=row["deposit"] == "yes"))
        except ValueError as exc:
            raise DemoDataError(f"{path}, line {number}: {exc}") from exc
    return tuple(users)


def read_calls(shared_data_dir: Path) -> dict[str, tuple[Call, ...]]:
    path = shared_data_dir / "intents" / "interactions.csv"
    calls: dict[str, list[Call]] = defaultdict(list)
    for number, row in enumerate(_rows(path, ("USER_ID", "ITEM_ID", "TIMESTAMP")), 2):
        try:
            calls[row["USER_ID"]].append(Call(item_id=row["ITEM_ID"], ts_ms=int(row["TIMESTAMP"]) * 1000))
        except ValueError as exc:
            raise DemoDataError(f"{path}, line {number}: {exc}") from exc
    return {user: tuple(sorted(items, key=lambda c: (c.ts_ms, c.item_id))) for user, items in calls.items()}


def read_touchpoints(shared_data_dir: Path) -> tuple[TouchpointRow, ...]:
    path = _require(shared_data_dir / "touchpoints" / "train.tsv")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise DemoDataError(f"{path}, line {number}: expected 3 tab-separated fields, got {len(fields)}")
            rows.append(TouchpointRow(observed=tuple(fields[1].split()), following=tuple(fields[2].split())))
    return tuple(rows)


def read_seed_data(shared_data_dir: Path) -> SeedData:
    return SeedData(users=read_users(shared_data_dir), calls=read_calls(shared_data_dir),
                    touchpoints=read_touchpoints(shared_data_dir))
