"""Setting up the local demo: data, a login, an API key and (when available) trained models.

Each step is idempotent so `manage.py demo` can be run again at any time: events are loaded through
the ordinary ingest (idempotent by event id), and the generated credentials are kept under the var
directory so every run prints the same working login and key.
"""
from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.db import connection, transaction

from apps.core.models import ApiKey, Scope, hash_key
from apps.customers import selectors as customer_selectors
from apps.customers import services as customer_services
from apps.demo import catalog
from apps.demo.dataset import demo_profiles
from apps.events import maintenance as events_maintenance
from apps.events import services as events_services
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_records
from apps.journeys.models import MilestoneReach
from apps.journeys.services import backfill_milestones, recompute_kpis

ADMIN_USERNAME = "admin"
API_KEY_NAME = "demo"
# The demo key explores the API and plays a contact flow; managing models and webhooks needs `manage`.
DEMO_KEY_SCOPES = (Scope.READ, Scope.PII, Scope.INGEST, Scope.DECIDE)
PASSWORD_FILE = "demo-admin.txt"
API_KEY_FILE = "demo-api-keys.json"
MODELS = ("intent", "risk", "next_touchpoint", "churn", "csat")
Say = Callable[[str], None]


@dataclass(frozen=True)
class TrainingReport:
    trained: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (model, reason)
    available: bool


def _secret_file(var_dir: Path, name: str) -> Path:
    var_dir.mkdir(parents=True, exist_ok=True)
    return var_dir / name


def _write_secret(path: Path, value: str) -> None:
    """Owner-only file: the demo's credentials should not be readable by other local users."""
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)


def ensure_admin(*, var_dir: Path, username: str = ADMIN_USERNAME) -> str:
    """A superuser whose password comes from DEMO_ADMIN_PASSWORD, else from the var file, else is new."""
    path = _secret_file(var_dir, PASSWORD_FILE)
    password = os.environ.get("DEMO_ADMIN_PASSWORD") or (
        path.read_text(encoding="utf-8").strip() if path.exists() else "")
    if not password:
        password = secrets.token_urlsafe(12)
        _write_secret(path, password)
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"})
    if created or not user.check_password(password) or not (user.is_staff and user.is_superuser):
        user.set_password(password)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()
    return password


def _database_label() -> str:
    """Which database the demo writes to, so keys issued for different databases do not overwrite
    each other in the var directory (a throw-away run must not break the real demo's key)."""
    settings_dict = connection.settings_dict
    return f"{connection.vendor}:{settings_dict.get('HOST') or ''}:{settings_dict.get('NAME')}"


def ensure_api_key(*, var_dir: Path, name: str = API_KEY_NAME) -> str:
    """The demo's machine-client key; kept in the var file so re-runs print one that still works."""
    path = _secret_file(var_dir, API_KEY_FILE)
    try:
        keys = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except ValueError:
        keys = {}
    keys = keys if isinstance(keys, dict) else {}
    label = _database_label()
    raw = str(keys.get(label, ""))
    if raw and ApiKey.objects.filter(name=name, hashed_key=hash_key(raw), revoked=False).exists():
        return raw
    ApiKey.objects.filter(name=name).delete()
    _, raw = ApiKey.issue(name, scopes=DEMO_KEY_SCOPES)
    _write_secret(path, json.dumps({**keys, label: raw}, indent=1, sort_keys=True))
    return raw


def clear_stale_event_store() -> bool:
    """Empty the event store when the graph holds no customer but the store holds events: they belong to
    an earlier graph (var/graph removed, var/events kept), and the analyses, which read the store,
    would count customers this hub does not have. True when it did."""
    if customer_selectors.customer_count() or not events_services.holds_events():
        return False
    events_maintenance.rebuild()  # from a graph with no events: every day's files go
    return True


def load_events(*, records: Iterable[dict], progress: Callable[[IngestBatch], None] | None = None) -> IngestBatch:
    return ingest_records(records=records, source=f"{catalog.SOURCE}:bank", progress=progress)


def apply_profiles(*, shared_data_dir: Path, customers: int, seed: int) -> int:
    """Name, segment and demographics on each customer vertex, for filters and the customer 360 page."""
    profiles = demo_profiles(shared_data_dir=shared_data_dir, customers=customers, seed=seed)
    customer_services.set_attributes({p.customer_id: p.attributes() for p in profiles})
    return len(profiles)


@dataclass(frozen=True)
class AnalyticsReport:
    milestones_reached: int
    milestones_found_now: int
    kpi_values: int


def refresh_analytics() -> AnalyticsReport:
    """Milestones over the whole history (each customer reaches one once) and the KPI store, so the
    dashboard has numbers whether or not ingest runs these follow-ups itself."""
    with transaction.atomic():  # one commit instead of one per reach: thousands of fsyncs saved
        reached = backfill_milestones()
        kpis = recompute_kpis()
    return AnalyticsReport(milestones_reached=MilestoneReach.objects.count(),
                           milestones_found_now=sum(reached.values()), kpi_values=kpis.values)


def training_available() -> bool:
    return "train" in get_commands()


def trainable_models() -> tuple[str, ...]:
    """What `train --list` offers, or the documented model names if it cannot list them."""
    out = io.StringIO()
    try:
        call_command("train", list=True, stdout=out)
    except (Exception, SystemExit):  # noqa: BLE001 - an older train command without --list
        return MODELS
    return tuple(line.strip() for line in out.getvalue().splitlines() if line.strip()) or MODELS


def train_models(*, say: Say, models: Iterable[str] | None = None) -> TrainingReport:
    """Train what the installed apps know how to train; a model that fails is reported, not fatal,
    because the demo's data and dashboard are useful without it."""
    if not training_available():
        return TrainingReport(trained=(), failed=(), available=False)
    models = trainable_models() if models is None else models
    trained: list[str] = []
    failed: list[tuple[str, str]] = []
    for model in models:
        say(f"Training {model} ...")
        try:
            call_command("train", model, verbosity=0, stdout=io.StringIO())
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of an optional step is reported
            failed.append((model, f"{type(exc).__name__}: {exc}"[:300]))
        else:
            trained.append(model)
    return TrainingReport(trained=tuple(trained), failed=tuple(failed), available=True)
