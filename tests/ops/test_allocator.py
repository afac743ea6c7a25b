"""`scripts/with_allocator.sh`, which the web process and graphserver start through: glibc's malloc by
default, jemalloc on request (`make test` installs Debian's libjemalloc2), and a bad MEMORY_ALLOCATOR
refused by name before anything starts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = str(ROOT / "scripts" / "with_allocator.sh")
SHOW = "import os; maps = open('/proc/self/maps').read(); print('jemalloc' if 'libjemalloc' in maps else 'system')"


def run(choice: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MEMORY_ALLOCATOR", "LD_PRELOAD")}
    if choice is not None:
        env["MEMORY_ALLOCATOR"] = choice
    return subprocess.run([WRAPPER, sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, timeout=60)


def installed_jemalloc() -> str:
    listed = subprocess.run(["sh", "-c", "$(command -v ldconfig || echo /sbin/ldconfig) -p"], capture_output=True,
                            text=True, check=True).stdout
    return next(line.split("=>")[-1].strip() for line in listed.splitlines() if "libjemalloc.so.2 " in line)


@pytest.mark.parametrize(("choice", "malloc"), [(None, "system"), ("auto", "jemalloc"), ("jemalloc", "jemalloc"),
                                                ("system", "system")])
def test_the_process_runs_on_the_allocator_chosen(choice: str | None, malloc: str) -> None:
    done = run(choice)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, malloc, "")


def test_a_library_named_by_its_path_is_the_one_loaded() -> None:
    done = run(installed_jemalloc())
    assert (done.returncode, done.stdout.strip()) == (0, "jemalloc")


@pytest.mark.parametrize(("choice", "message"), [
    ("tcmalloc", "MEMORY_ALLOCATOR=tcmalloc: use auto, jemalloc, system or the path of libjemalloc.so.2"),
    ("/opt/none/libjemalloc.so.2", "MEMORY_ALLOCATOR=/opt/none/libjemalloc.so.2: no such file"),
])
def test_a_bad_choice_is_refused_by_name_before_the_command_runs(choice: str, message: str) -> None:
    done = run(choice)
    assert (done.returncode, done.stderr.strip(), done.stdout) == (2, message, "")
