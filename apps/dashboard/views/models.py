"""Models page: the registry with metrics beside baselines, ROC/calibration plots, activate and roll back."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.dashboard import figures
from apps.dashboard.roles import ADMIN, VIEWER, has_role, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import choice_or_default, page
from apps.propensity import gate, registry, selectors
from apps.propensity.models import ModelVersion, TrainingRun

COLUMNS = [Column("name", "Model"), Column("version", "Version", True), Column("status", "Status"),
           Column("metric", "Metric"), Column("value", "Model", True), Column("baseline", "Baseline", True),
           Column("lift", "Difference", True), Column("baseline_name", "Baseline model"),
           Column("trained", "Trained"), Column("window", "Training window")]

RUN_COLUMNS = [Column("id", "Run", True), Column("model", "Model"), Column("status", "Status"),
               Column("progress", "Progress %", True), Column("message", "Message"), Column("trained_by", "By"),
               Column("started", "Started"), Column("finished", "Finished"), Column("version", "Version", True),
               Column("error", "Error")]


def run_row(run: TrainingRun, *, admin: bool) -> dict[str, Any]:
    """A failed run's reason is for admins (a traceback can name files and hosts), as in the API."""
    failed = run.status == TrainingRun.Status.FAILED
    message = run.message if admin or not failed else "Training failed; an admin can read why."
    error = (run.error.strip().splitlines()[-1] if run.error.strip() else run.message) if admin and failed else ""
    return {"id": run.pk, "model": run.model_name, "status": run.status, "progress": round(run.progress * 100, 1),
            "message": message, "trained_by": run.trained_by,
            "started": f"{run.started:%Y-%m-%d %H:%M:%S}" if run.started else "",
            "finished": f"{run.finished:%Y-%m-%d %H:%M:%S}" if run.finished else "",
            "version": run.model_version.version if run.model_version else None, "error": error}


def _number(value: Any) -> float | None:
    return round(float(value), 4) if isinstance(value, int | float) and not isinstance(value, bool) else None


def flatten(metrics: Any, prefix: str = "") -> dict[str, float]:
    """Nested metrics as dotted names (`bands.confirm.precision`, `at_thresholds@800.tpr`), numbers only."""
    out: dict[str, float] = {}
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            name = f"{prefix}{key}"
            number = _number(value)
            if number is not None:
                out[name] = number
            elif isinstance(value, dict):
                out.update(flatten(value, name + "."))
            elif isinstance(value, list) and all(isinstance(v, dict) and "threshold" in v for v in value):
                for item in value:
                    rest = {k: v for k, v in item.items() if k != "threshold"}
                    out.update(flatten(rest, f"{name}@{item['threshold']:g}."))
    return out


def baseline_of(version: Any) -> tuple[str, dict[str, float]]:
    """The baseline's name and metrics: `{"popularity": {...}}` names itself; of several named baselines,
    the one the activation gate compared against; a flat dict is "baseline"."""
    raw = version.baseline_metrics or {}
    nested = {k: v for k, v in raw.items() if isinstance(v, dict)}
    if nested and len(nested) == len(raw):
        name = (getattr(version, "gate", None) or {}).get("baseline")
        name = name if name in nested else next(iter(nested))
        return str(name), flatten(nested[name])
    return "baseline", flatten(raw)


def notes_of(version: Any) -> list[str]:
    return [f"{k.replace('_', ' ')}: {v}" for k, v in sorted((version.metrics or {}).items()) if isinstance(v, str)]


def metric_rows(version: Any) -> list[dict[str, Any]]:
    """One row per numeric metric, the baseline's value beside it (curves are drawn, not tabled)."""
    status = "active" if version.is_active else ("rolled back" if version.rolled_back else "")
    window = " – ".join(f"{d:%Y-%m-%d}" for d in (version.train_start, version.train_end) if d)
    common = {"name": version.name, "version": version.version, "status": status,
              "trained": f"{version.created:%Y-%m-%d %H:%M}" if version.created else "", "window": window}
    baseline_name, baseline = baseline_of(version)
    rows = []
    for key, value in sorted(flatten(version.metrics).items()):
        base = baseline.get(key)
        lift = round(value - base, 4) if base is not None else None
        rows.append({**common, "metric": key, "value": value, "baseline": base, "lift": lift,
                     "baseline_name": baseline_name if base is not None else ""})
    return rows or [{**common, "metric": "", "value": None, "baseline": None, "lift": None, "baseline_name": ""}]


def _xy(data: Any, xkey: str, ykey: str) -> tuple[list[float], list[float]] | None:
    if isinstance(data, dict) and isinstance(data.get(xkey), list) and isinstance(data.get(ykey), list):
        return data[xkey], data[ykey]
    return None


def _operating_points(metrics: Any) -> tuple[list[float], list[float]] | None:
    """ROC through the rule thresholds' (FPR, TPR) points, from (0, 0) to (1, 1)."""
    points = (metrics or {}).get("at_thresholds") if isinstance(metrics, dict) else None
    if not isinstance(points, list) or not points or not all("fpr" in p and "tpr" in p for p in points):
        return None
    pairs = sorted({(0.0, 0.0), (1.0, 1.0), *((float(p["fpr"]), float(p["tpr"])) for p in points)})
    return [x for x, _ in pairs], [y for _, y in pairs]


def curves_for(version: Any) -> list[figures.Chart]:
    """ROC and calibration charts when the version stored the points to draw them."""
    charts = []
    baseline_name, _ = baseline_of(version)
    raw_baseline = version.baseline_metrics or {}
    if isinstance(raw_baseline.get(baseline_name), dict):
        raw_baseline = raw_baseline[baseline_name]
    stored = {**(version.metrics or {}), **({"calibration": version.calibration} if version.calibration else {})}
    roc = _xy(stored.get("roc"), "fpr", "tpr") or _operating_points(stored)
    if roc:
        named = {f"v{version.version}": roc}
        base = _xy(raw_baseline.get("roc"), "fpr", "tpr") or _operating_points(raw_baseline)
        if base:
            named[baseline_name] = base
        charts.append(figures.curve(f"roc-{version.name}", f"ROC curve of {version.name} v{version.version}",
                                    named, x_title="False positive rate", y_title="True positive rate"))
    calibration = stored.get("calibration")
    cal = (_xy(calibration, "predicted", "observed") or _xy(calibration, "mean_predicted", "fraction_positive")
           or _xy(calibration, "prob_pred", "prob_true"))
    if cal:
        charts.append(figures.curve(f"cal-{version.name}", f"Calibration of {version.name} v{version.version}",
                                    {f"v{version.version}": cal}, x_title="Predicted probability",
                                    y_title="Observed frequency"))
    return charts


@role_required(VIEWER)
def models_page(request: HttpRequest) -> HttpResponse:
    versions = list(ModelVersion.objects.all())
    names = sorted({v.name for v in versions})
    chosen, errors = choice_or_default(request, "name", names, "", shown="every model")
    shown = [v for v in versions if not chosen or v.name == chosen]
    rows = [row for v in shown for row in metric_rows(v)]
    table = Table("models", "Model versions: metrics beside the baseline", COLUMNS, rows)
    groups = []
    for name in names:
        if chosen and name != chosen:
            continue
        mine = [v for v in versions if v.name == name]
        active = next((v for v in mine if v.is_active), None)
        shown_version = active or mine[0]
        verdict = gate.judge_version(active) if active else None
        groups.append({"name": name, "versions": mine, "active": active, "charts": curves_for(shown_version),
                       "notes": notes_of(shown_version), "verdict": verdict})
    admin = has_role(request.user, ADMIN)
    runs = Table("runs", "Training runs (API, jobs and manage.py train), newest first", RUN_COLUMNS,
                 [run_row(r, admin=admin) for r in selectors.training_runs(chosen or None)[:20]])
    context = {"title": "Models", "table": table, "groups": groups, "names": names, "chosen": chosen, "runs": runs,
               "errors": errors}
    return page(request, "dashboard/models.html", context, tables={"models": table, "runs": runs})


def _back(name: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('dashboard:models')}?name={name}")


@require_POST
@role_required(ADMIN)
def activate(request: HttpRequest, name: str) -> HttpResponse:
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        messages.error(request, "activate: choose a version number")
        return _back(name)
    try:
        done = registry.activate(name=name, version=version, user=request.user)
        messages.success(request, f"{name} v{done.version} is now active")
    except ValueError as exc:
        messages.error(request, str(exc))
    return _back(name)


@require_POST
@role_required(ADMIN)
def rollback(request: HttpRequest, name: str) -> HttpResponse:
    try:
        done = registry.rollback(name=name, user=request.user)
        messages.success(request, f"{name} rolled back to v{done.version}")
    except ValueError as exc:
        messages.error(request, str(exc))
    return _back(name)
