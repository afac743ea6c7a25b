"""next_event on public event logs: every prefix of every journey, "the journey ends" a target like any
other, judged on whole held-out journeys beside the last-event and last-two-events baselines."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.propensity import registry
from apps.propensity.models import ModelVersion
from apps.propensity.next_event import END, TransitionBaseline, accuracy, split
from apps.propensity.next_event_features import Journey, PrefixEncoder, journeys_from_frame, targets
from graph import journeys
from graph import schema as s

pytestmark = pytest.mark.django_db

HEADER = "customer_id,event_id,event_type,channel,timestamp\n"


@pytest.fixture(autouse=True)
def _fresh_registry():  # type: ignore[no-untyped-def]
    registry.clear_cache()
    yield
    registry.clear_cache()


def _journey(key: str, types: list[str], start: int = 1_700_000_000_000) -> Journey:
    return Journey(key=key, types=types, ts=[start + i * 60_000 for i in range(len(types))],
                   channels=["web"] * len(types))


def test_every_prefix_has_a_target_and_the_last_one_is_the_end():
    assert targets([_journey("a", ["open", "pay", "close"]), _journey("b", ["open"])]) == [
        "pay", "close", END, END]


def test_features_use_only_the_prefix_never_the_time_of_the_event_predicted():
    # given two journeys equal up to their second event, whose third events come at very different times
    early, late = _journey("a", ["open", "pay", "close"]), _journey("b", ["open", "pay", "close"])
    late = Journey(key="b", types=late.types, ts=[*late.ts[:2], late.ts[2] + 90 * 86_400_000],
                   channels=late.channels)
    encoder = PrefixEncoder.learn([early, late] * 3)
    # then the rows of their first two prefixes are identical
    X_early, X_late = encoder.transform([early]), encoder.transform([late])
    assert np.array_equal(X_early[:2], X_late[:2], equal_nan=True)
    assert not np.array_equal(X_early[2], X_late[2], equal_nan=True)  # the third prefix does see its own time
    assert encoder.transform([early], last_only=True).shape == (1, len(encoder.names()))


def test_baselines_predict_the_most_frequent_next_event_after_the_last_one_or_two():
    train = [_journey("a", ["x", "y", "z"]), _journey("b", ["w", "y", "q"]), _journey("c", ["x", "y", "z"]),
             _journey("d", ["x"])]
    last, two = TransitionBaseline(order=1).fit(train), TransitionBaseline(order=2).fit(train)
    assert last.predict(["w", "y"]) == "z"  # after y: z twice, q once
    assert two.predict(["w", "y"]) == "q"  # after (w, y): q
    assert two.predict(["never", "seen"]) == END  # the most frequent target overall
    assert accuracy(["z", END, "q"], ["z", END, "x"]) == {"accuracy": 0.6667, "accuracy_without_end": 0.5,
                                                         "prefixes": 3, "prefixes_without_end": 2}


def test_a_case_split_keeps_whole_journeys_in_file_order(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(HEADER + "z,1,open,web,2024-01-02T00:00:00Z\na,2,open,web,2024-01-01T00:00:00Z\n"
                    "z,3,pay,web,2024-01-03T00:00:00Z\nm,4,open,web,2024-01-05T00:00:00Z\n")
    from apps.propensity.eventfile import read_events_file

    frame = read_events_file(path)
    assert [j.key for j in journeys_from_frame(frame, order="case")] == ["z", "a", "m"]
    assert [j.key for j in journeys_from_frame(frame, order="time")] == ["a", "z", "m"]
    train, hold = split(journeys_from_frame(frame, order="case"), 0.67)
    assert ([j.key for j in train], [j.key for j in hold]) == (["z", "a"], ["m"])
    with pytest.raises(ValueError, match="strictly between 0 and 1, got 1.5"):
        split(journeys_from_frame(frame), 1.5)


@pytest.mark.slow
def test_next_event_beats_both_baselines_on_a_case_split_of_the_helpdesk_log(shared_data, tmp_path):
    # given the public Helpdesk process log (4,580 tickets, data/helpdesk), the last 20% of journeys held out
    out = io.StringIO()
    call_command("train", "next_event", "--data", str(shared_data / "helpdesk" / "events.csv"), "--split", "case",
                 "--train-fraction", "0.8", stdout=out)
    # then the model beats the last-event and last-two-events baselines, with and without the end
    version = ModelVersion.objects.get(name="next_event")
    m, base = version.metrics, version.baseline_metrics
    assert (m["journeys"], m["prefixes"], m["split"]) == (916, 4250, "case")
    assert (m["accuracy"], m["accuracy_without_end"]) == (0.8447, 0.8029)
    assert base == {"last_event": {"accuracy": 0.84, "accuracy_without_end": 0.7975, "prefixes": 4250,
                                   "prefixes_without_end": 3334},
                    "last_two_events": {"accuracy": 0.8414, "accuracy_without_end": 0.7993, "prefixes": 4250,
                                        "prefixes_without_end": 3334}}
    assert version.is_active and version.gate["baseline"] == "last_two_events"
    # and evaluate scores every prefix of every journey of a file beside both baselines on the same rows
    lines = (shared_data / "helpdesk" / "events.csv").read_text().splitlines(keepends=True)
    sample = tmp_path / "sample.csv"
    sample.write_text("".join(lines[:201]))
    printed = io.StringIO()
    call_command("evaluate", "next_event", "--data", str(sample), stdout=printed)
    result = json.loads(printed.getvalue())
    assert set(result) == {"model", "version", "data", "metrics", "baseline"}
    assert result["metrics"]["prefixes"] == 200
    assert {"accuracy", "accuracy_without_end"} <= set(result["metrics"])
    assert set(result["baseline"]) == {"last_event", "last_two_events"}
    assert result["baseline"]["last_event"]["prefixes"] == 200


def _small_log(tmp_path: Path, journeys_count: int = 60) -> Path:
    """A log whose next step is certain from the last two: open → check → (approve → pay | reject)."""
    rows = []
    for n in range(journeys_count):
        steps = ["open", "check", "approve", "pay"] if n % 3 else ["open", "check", "reject"]
        rows += [f"k{n:03d},k{n:03d}-{i},{step},web,{1_700_000_000_000 + n * 10_000_000 + i * 60_000}"
                 for i, step in enumerate(steps)]
    path = tmp_path / "small.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_train_options_and_the_customer_endpoint(tmp_path):
    # given a model trained on a small log whose steps are certain
    call_command("train", "next_event", "--data", str(_small_log(tmp_path)), "--train-fraction", "0.75",
                 stdout=io.StringIO())
    version = ModelVersion.objects.get(name="next_event")
    if not version.is_active:  # the baselines may be as perfect as the model on so easy a log
        registry.activate(name="next_event", version=version.version)
    assert version.metrics["train_journeys"] == 45 and version.metrics["split"] == "case"
    # and a customer in the graph who has opened and been checked
    journeys.write_events([s.EventRecord(event_id=f"e{i}", type=t, channel="web", ts=1_800_000_000_000 + i * 1000,
                                         customer_id="c1") for i, t in enumerate(["open", "check", "approve"])])
    client = APIClient()
    client.force_authenticate(user=_user())
    # when the next event is asked for
    body = client.get("/api/customers/c1/next-event").json()
    # then the top 3 come with probabilities, the likeliest first: after approve comes pay
    assert (body["customer_id"], body["model"], body["version"]) == ("c1", "next_event", 1)
    assert body["after"] == {"event_type": "approve", "ts": 1_800_000_002_000}
    assert len(body["next_events"]) == 3 and body["next_events"][0]["event_type"] == "pay"
    assert body["next_events"][0]["probability"] > 0.9 and body["next_events"][0]["ends_journey"] is False
    assert [e["probability"] for e in body["next_events"]] == sorted((e["probability"] for e in body["next_events"]),
                                                                     reverse=True)
    assert client.get("/api/customers/nobody/next-event").status_code == 404
    assert APIClient().get("/api/customers/c1/next-event").status_code in (401, 403)


def test_the_split_options_belong_to_next_event_and_a_bad_fraction_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="--split applies to next_event only"):
        call_command("train", "churn", "--split", "time")
    with pytest.raises(CommandError, match="strictly between 0 and 1, got 1.0"):
        call_command("train", "next_event", "--data", str(_small_log(tmp_path)), "--train-fraction", "1.0")


def test_without_a_model_the_endpoint_says_what_to_do(db):  # type: ignore[no-untyped-def]
    journeys.write_events([s.EventRecord(event_id="e1", type="open", channel="web", ts=1, customer_id="c1")])
    client = APIClient()
    client.force_authenticate(user=_user())
    response = client.get("/api/customers/c1/next-event")
    assert response.status_code == 404
    assert "run `manage.py train next_event`" in response.json()["detail"]


def _user():  # type: ignore[no-untyped-def]
    """A person with the viewer role: the least that reads a customer's predictions."""
    import io

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    user = get_user_model().objects.create_user("viewer", password="x")
    call_command("grant_role", "viewer", "viewer", stdout=io.StringIO())
    return user
