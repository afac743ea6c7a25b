"""The model registry: versioned model files plus their records, one active version per name.

Training code calls `register_model`; serving code calls `load_active`, which keeps the loaded model in
the process and notices within a second when someone activates or rolls back another version (one
indexed query), so web workers and Lambda shims never serve a stale model for long.

A new version is activated only when the activation gate (`gate.py`) says it beats its baseline on
its own holdout by the admin's margin; otherwise it is stored, not served, with the gate's reason.
A person may still activate any version by hand (audited); the loaded model then carries the gate's
verdict, so the decision path can refuse to lean on a model that does not earn its place.
"""
from __future__ import annotations

import hashlib
import io
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import joblib
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core import refresh
from apps.core.services import record_audit
from apps.propensity import artifacts, gate
from apps.propensity.models import ModelVersion

RELOAD_CHECK_SECONDS = 1.0


class RegistryError(ValueError):
    """A registry request that cannot be honoured (unknown name/version, nothing to roll back to)."""


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    model: Any
    verdict: gate.Verdict | None = None

    @property
    def qualifies(self) -> bool:
        """Whether this version beats its baseline by the current margin (what decisions require)."""
        return bool(self.verdict and self.verdict.qualifies)


def register_model(*, name: str, model: Any, metrics: dict, baseline_metrics: dict, features: list[str],
                   train_window: tuple[datetime | None, datetime | None], calibration: dict | None = None,
                   trained_by: str = "system", activate: bool = True, params: dict | None = None,
                   user: Any = None) -> ModelVersion:
    """Store `model` (any picklable object) under ARTIFACTS_DIR and record it as the next version of `name`."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise RegistryError(f"model name {name!r} must be letters, digits, '-' or '_'")
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        latest = ModelVersion.objects.select_for_update().filter(name=name).aggregate(v=Max("version"))["v"]
        number = (latest or 0) + 1
        location = artifacts.artifact_location(f"{name}/v{number}-{digest[:12]}.joblib")
        artifacts.write_bytes(location, data)
        version = ModelVersion.objects.create(
            name=name, version=number, artifact=location, sha256=digest,
            train_start=train_window[0], train_end=train_window[1], features=list(features),
            params=params or {}, metrics=metrics, baseline_metrics=baseline_metrics, calibration=calibration,
            trained_by=trained_by,
        )
        verdict = gate.judge_version(version)
        version.gate = verdict.as_dict()
        version.save(update_fields=["gate"])
        record_audit(user=user, action="register", obj=version,
                     changes={"metrics": metrics, "baseline_metrics": baseline_metrics, "gate": version.gate})
        if activate and verdict.qualifies:
            version = _activate(version, user=user, action="activate")
    return version


def activate(*, name: str, version: int, user: Any = None) -> ModelVersion:
    """Make `version` the one served for `name`; the previous active version stays available for rollback."""
    with transaction.atomic():
        target = ModelVersion.objects.select_for_update().filter(name=name, version=version).first()
        if target is None:
            raise RegistryError(f"model {name!r} has no version {version}")
        return _activate(target, user=user, action="activate")


def rollback(*, name: str, user: Any = None) -> ModelVersion:
    """Re-activate the version that was active before the current one."""
    with transaction.atomic():
        versions = list(ModelVersion.objects.select_for_update().filter(name=name))
        if not versions:
            raise RegistryError(f"no model named {name!r}")
        current = next((v for v in versions if v.is_active), None)
        candidates = [v for v in versions if not v.is_active and not v.rolled_back and v.activated_at]
        if not candidates:
            raise RegistryError(f"model {name!r} has no previously active version to roll back to")
        previous = max(candidates, key=lambda v: (v.activated_at, v.version))
        if current is not None:
            current.rolled_back = True
            current.save(update_fields=["rolled_back"])
        return _activate(previous, user=user, action="rollback", keep_rolled_back=True)


def _activate(target: ModelVersion, *, user: Any, action: str, keep_rolled_back: bool = False) -> ModelVersion:
    old = ModelVersion.objects.filter(name=target.name, is_active=True).exclude(pk=target.pk).first()
    if old is not None:
        ModelVersion.objects.filter(pk=old.pk).update(is_active=False)
    target.is_active = True
    target.activated_at = timezone.now()
    if not keep_rolled_back:
        target.rolled_back = False
    target.save(update_fields=["is_active", "activated_at", "rolled_back"])
    record_audit(user=user, action=action, obj=target,
                 changes={"from_version": old.version if old else None, "to_version": target.version})
    _forget(target.name)
    return target


def active_version(name: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(name=name, is_active=True).first()


def load_model(version: ModelVersion) -> Any:
    """Read and unpickle a version's file, refusing one whose checksum no longer matches its record."""
    data = artifacts.read_bytes(version.artifact)
    digest = hashlib.sha256(data).hexdigest()
    if digest != version.sha256:
        raise RegistryError(f"artifact {version.artifact} has sha256 {digest}, registry expects {version.sha256}")
    return joblib.load(io.BytesIO(data))


@dataclass
class _CacheEntry:
    loaded: LoadedModel | None
    checked_at: float


_cache: dict[str, _CacheEntry] = {}
_cache_lock = threading.Lock()
_clears = refresh.Clears()


def load_active(name: str, *, max_age: float = RELOAD_CHECK_SECONDS) -> LoadedModel | None:
    """The active version of `name`, loaded once per process and re-checked at most every `max_age`
    seconds: off the request's path once a version is loaded (`apps.core.refresh`), so a caller never
    waits for the check's query or for a newly activated model to load."""
    entry = _cache.get(name)
    if entry is not None and time.monotonic() - entry.checked_at < max_age:
        return entry.loaded
    if entry is not None and refresh.in_background():
        seen = _clears.count
        refresh.refresher.request(("active-model", name), lambda: _check(name, seen))
        return entry.loaded
    return _check(name, _clears.count)


def _check(name: str, seen: int) -> LoadedModel | None:
    """Read which version is active and load it if it is not the one loaded; stored unless the cache
    was cleared since `seen` (an activation in this process is not undone by an older read)."""
    now = time.monotonic()
    active_id = ModelVersion.objects.filter(name=name, is_active=True).values_list("id", flat=True).first()
    with _cache_lock:
        entry = _cache.get(name)
        if entry is not None and (entry.loaded.version.pk if entry.loaded else None) == active_id:
            entry.checked_at = now
            return entry.loaded
        loaded = None
        if active_id is not None:
            version = ModelVersion.objects.get(pk=active_id)
            loaded = LoadedModel(version=version, model=load_model(version), verdict=gate.judge_version(version))
        if not _clears.since(seen):
            _cache[name] = _CacheEntry(loaded=loaded, checked_at=now)
        return loaded


def _forget(name: str) -> None:
    with _cache_lock:
        _clears.clear()
        _cache.pop(name, None)


def clear_cache() -> None:
    """Drop every loaded model (tests, or after ARTIFACTS_DIR changes)."""
    with _cache_lock:
        _clears.clear()
        _cache.clear()
