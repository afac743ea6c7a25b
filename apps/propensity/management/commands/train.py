"""`manage.py train MODEL [--since --until] [--data PATH]`: train, compare with the baseline, register.

The foreground run takes a training run row like the API's background job, so the one-run-per-model
rule covers it (a second run exits with 2 naming the one in progress) and people see it running; Ctrl-C
or SIGTERM fails the row on the way out."""
from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.propensity.models import ModelVersion, TrainingRun
from apps.propensity.params import ParamError, validate_params
from apps.propensity.specs import spec_names
from apps.propensity.tasks import Interrupted, TrainingInProgress, queue_training, run_training, this_process

BUSY_EXIT_CODE = 2


def parse_when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{option} {value!r} is not an ISO date or datetime (e.g. 2026-01-31)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Train a model, evaluate it beside its baseline on a time-split holdout and register the version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="model name (see --list)", nargs="?")
        parser.add_argument("--since", help="first event time to use (ISO date)")
        parser.add_argument("--until", help="last event time to use (ISO date)")
        parser.add_argument("--data", help="train from this file instead of the model's default source")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-activate", action="store_true", help="register without serving it")
        parser.add_argument("--no-scores", action="store_true", help="do not write customer scores to the graph")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                            help="model parameter override (repeatable), e.g. --param churn_days=30")
        parser.add_argument("--split", choices=["case", "time"],
                            help="next_event: hold out whole journeys, the last in file order (case, default) "
                                 "or the last to start (time)")
        parser.add_argument("--train-fraction", type=float, metavar="F",
                            help="next_event: share of the journeys to train on (default 0.8)")
        parser.add_argument("--list", action="store_true", help="list trainable models and exit")
        parser.add_argument("--run", type=int, help="run a queued TrainingRun by id (background workers)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            self.stdout.write("\n".join(spec_names()))
            return
        if options["run"] is not None:
            self._run_queued(options["run"])
            return
        self.verbosity = int(options.get("verbosity", 1))
        name = options["model"]
        if not name:
            raise CommandError(f"name a model to train: {', '.join(spec_names())}")
        if name not in spec_names():
            raise CommandError(f"unknown model {name!r}; known models: {', '.join(spec_names())}")
        params = _params(options["param"])
        for option, key in (("split", "split"), ("train_fraction", "train_fraction")):
            if options.get(option) is not None:
                if name != "next_event":
                    raise CommandError(f"--{option.replace('_', '-')} applies to next_event only")
                params[key] = options[option]
        version = self._train(name, options, params)
        if self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(
                f"registered {version.name} v{version.version}{' (active)' if version.is_active else ''}"))
            if not version.is_active and not options["no_activate"]:
                self.stdout.write(self.style.WARNING(
                    f"not activated: {version.gate.get('reason', '')} (activation gate; margin in the admin, "
                    "Propensity › Activation policies)"))
            self.stdout.write(json.dumps({"metrics": version.metrics, "baseline": version.baseline_metrics}, indent=2))

    def _train(self, name: str, options: dict[str, Any], params: dict[str, Any]) -> ModelVersion:
        since, until = parse_when(options["since"], "--since"), parse_when(options["until"], "--until")
        recorded = {"params": params, "seed": options["seed"], "activate": not options["no_activate"],
                    "scores": not options["no_scores"]}
        if options["data"]:
            recorded["data"] = str(Path(options["data"]))
        try:
            run = queue_training(name=name, since=since, until=until, options=recorded,
                                 trained_by="manage.py train", process=this_process())
        except TrainingInProgress as busy:
            raise CommandError(f"{busy} (started by {busy.run.trained_by}); wait for it to finish "
                               f"(GET /api/training-runs/{busy.run.pk})",
                               returncode=BUSY_EXIT_CODE) from None
        with _sigterm_interrupts():
            run = run_training(run.pk, progress=self._progress)
        if run.status != TrainingRun.Status.SUCCEEDED or run.model_version is None:
            raise CommandError(f"training {name} failed: {run.message} (training run {run.pk})")
        return run.model_version

    def _progress(self, fraction: float, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(f"[{fraction:4.0%}] {message}")

    def _run_queued(self, run_id: int) -> None:
        if not TrainingRun.objects.filter(pk=run_id).exists():
            raise CommandError(f"no training run with id {run_id}")
        with _sigterm_interrupts():
            run = run_training(run_id)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"training run {run_id} failed: {run.message}")
        self.stdout.write(self.style.SUCCESS(f"training run {run_id} succeeded: {run.model_version}"))


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While training, SIGTERM (a supervisor stopping the command) raises `Interrupted` as Ctrl-C raises
    KeyboardInterrupt, so the run is failed instead of left running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _params(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs checked against the same allow-list as the API's: some LightGBM options write
    files or change the process, and a command line is no more trusted than a request."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param {pair!r} must look like KEY=VALUE")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    try:
        return validate_params(params)
    except ParamError as exc:
        raise CommandError(f"--param: {exc}") from exc
