"""The web process keeps what it loaded at start out of the garbage collector's full passes, lets a
thread waiting for the GIL (after a graph read) have it back within half a millisecond, keeps the
CPUs quick to wake when CPU_WAKE_LATENCY_US asks for it, and runs what it asks for at its end even as a
multiprocessing child (granian's workers), which skips atexit."""
from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from journeyhub import long_lived
from journeyhub.long_lived import freeze_loaded_objects, hold_cpu_wake_latency, shorten_switch_interval


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_every_view_is_imported_and_everything_loaded_is_frozen(unfrozen: None) -> None:
    frozen = freeze_loaded_objects()
    assert "apps.decisions.api.views" in sys.modules
    # a frozen object may still die on another thread of the session between the two counts
    assert 0 <= frozen - gc.get_freeze_count() < 1000
    assert frozen > 10 * len(gc.get_objects())  # the collector is left with a small fraction


@pytest.fixture
def switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_switch_interval_is_half_a_millisecond_unless_configured(switch_interval: None, monkeypatch) -> None:
    monkeypatch.delenv("WEB_SWITCH_INTERVAL_MS", raising=False)
    assert shorten_switch_interval() == pytest.approx(0.0005)
    assert sys.getswitchinterval() == pytest.approx(0.0005)
    monkeypatch.setenv("WEB_SWITCH_INTERVAL_MS", "2")
    assert shorten_switch_interval() == pytest.approx(0.002)


@pytest.mark.parametrize("value", ["fast", "0", "-1", "500"])
def test_a_switch_interval_out_of_range_is_refused_with_its_name(switch_interval: None, monkeypatch,
                                                                 value: str) -> None:
    monkeypatch.setenv("WEB_SWITCH_INTERVAL_MS", value)
    before = sys.getswitchinterval()
    with pytest.raises(ImproperlyConfigured, match=f"WEB_SWITCH_INTERVAL_MS='{value}'"):
        shorten_switch_interval()
    assert sys.getswitchinterval() == before


@pytest.fixture
def released() -> Iterator[None]:
    """Requests a test makes are closed after it (the session's process holds none)."""
    before = len(long_lived._held)
    yield
    while len(long_lived._held) > before:
        os.close(long_lived._held.pop())


def test_without_the_variable_nothing_is_asked(released: None, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CPU_WAKE_LATENCY_US", raising=False)
    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")

    assert hold_cpu_wake_latency(str(device)) is None
    assert device.read_bytes() == b""


def test_the_latency_is_written_as_the_kernel_reads_it_and_held_open(released: None, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CPU_WAKE_LATENCY_US", "20")
    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")

    assert hold_cpu_wake_latency(str(device)) == 20

    assert device.read_bytes() == (20).to_bytes(4, sys.byteorder)  # one s32: the request's latency
    assert os.readlink(f"/proc/self/fd/{long_lived._held[-1]}") == str(device)  # the request lasts while open


@pytest.mark.parametrize("value", ["fast", "-1", "1.5", "2147483648", "²"])
def test_a_latency_that_is_not_whole_microseconds_is_refused_with_its_name(released: None, monkeypatch,
                                                                           value: str) -> None:
    monkeypatch.setenv("CPU_WAKE_LATENCY_US", value)
    with pytest.raises(ImproperlyConfigured, match=f"CPU_WAKE_LATENCY_US='{value}'"):
        hold_cpu_wake_latency()


def test_a_device_that_cannot_be_written_is_logged_and_serving_goes_on(released: None, monkeypatch, tmp_path,
                                                                        caplog) -> None:
    monkeypatch.setenv("CPU_WAKE_LATENCY_US", "0")
    caplog.set_level(logging.WARNING, logger="journeyhub.long_lived")
    held = len(long_lived._held)

    assert hold_cpu_wake_latency(str(tmp_path / "missing" / "cpu_dma_latency")) is None

    assert len(long_lived._held) == held
    assert [r.getMessage() for r in caplog.records] == [
        f"CPU_WAKE_LATENCY_US=0 not applied: cannot write {tmp_path}/missing/cpu_dma_latency (No such file or "
        "directory); run the process as root or grant it write access to the device"]


def test_the_kernel_keeps_the_latency_while_the_process_lives() -> None:
    """Against Linux's own device (the test machine runs as root, as the project's scripts do): the
    system's latency target is the lowest any process asks for, so it is at most ours while we hold it."""
    assert os.access(long_lived.CPU_LATENCY_DEVICE, os.W_OK), "needs write access to /dev/cpu_dma_latency (root)"
    script = (
        "import os, sys; from journeyhub.long_lived import hold_cpu_wake_latency, CPU_LATENCY_DEVICE as d\n"
        "def now(): f = os.open(d, os.O_RDONLY); v = int.from_bytes(os.read(f, 4), sys.byteorder, signed=True); "
        "os.close(f); return v\n"
        "before = now(); held = hold_cpu_wake_latency(); print(before, held, now())")
    out = subprocess.run([sys.executable, "-c", script], env={**os.environ, "CPU_WAKE_LATENCY_US": "37"},
                         cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    before, held, during = map(int, out)
    assert (held, during) == (37, min(before, 37))


def test_what_is_asked_for_at_process_end_runs_once_as_a_forked_multiprocessing_child_returns(tmp_path: Path) -> None:
    # given a child as granian starts its workers (multiprocessing, fork), which ends through os._exit
    marker = tmp_path / "ran"

    def note() -> None:
        with marker.open("a") as out:
            out.write(f"{os.getpid()}\n")

    def child() -> None:
        long_lived.at_process_end(note)
        long_lived.at_process_end(note)  # asked twice in one process
        assert not marker.exists()

    # when the child returns
    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=60)
    # then the function ran once, in the child, as it ended
    assert process.exitcode == 0
    assert marker.read_text() == f"{process.pid}\n"
