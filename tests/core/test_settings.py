"""Production settings refuse to start without secrets and hosts from the environment; the local demo keeps its
terminal to the point."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _production_env(**env: str) -> dict[str, str]:
    # the browser tests allow async-unsafe ORM calls in this process; a deployment never does
    ours = ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "SECURE_", "SESSION_", "CSRF_", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    clean.update(env, DJANGO_SETTINGS_MODULE="journeyhub.settings.production")
    return clean


def _load_production(code: str = "print(settings.DEBUG, settings.ALLOWED_HOSTS)", **env: str
                     ) -> subprocess.CompletedProcess[str]:
    setup = "import django; django.setup(); from django.conf import settings; "
    return subprocess.run([sys.executable, "-c", setup + code], cwd=ROOT, env=_production_env(**env),
                          capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_secret_key() -> None:
    result = _load_production(ALLOWED_HOSTS="hub.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set in the environment for production." in result.stderr


def test_production_refuses_to_start_without_allowed_hosts() -> None:
    result = _load_production(SECRET_KEY="s" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set in the environment for production." in result.stderr


def test_production_starts_with_both_and_never_debugs() -> None:
    result = _load_production(SECRET_KEY="s" * 50, ALLOWED_HOSTS="hub.example.com", DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['hub.example.com']"


REAL_SECRET = "k3Jx9-vQ2_mZ7pLr4TbW8yNc1HdF6sGa0eUo5iXj-Rq2Vt9Bn7Mw3Lp8Zc4Yd"


def test_check_deploy_is_clean_with_nothing_silenced(tmp_path: Path) -> None:
    # given production settings with only what they require from the environment
    env = _production_env(SECRET_KEY=REAL_SECRET, ALLOWED_HOSTS="hub.example.com",
                          DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    # when Django's deployment checks run, failing on any warning
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    # then nothing is reported and nothing is silenced
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_defaults_are_https_only() -> None:
    code = ("print(settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
            "settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
            "settings.SILENCED_SYSTEM_CHECKS, "
            "settings.CSRF_TRUSTED_ORIGINS)")
    result = _load_production(code, SECRET_KEY=REAL_SECRET, ALLOWED_HOSTS="hub.example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True 31536000 True True True [] ['https://hub.example.com']"


def test_a_sqlite_transaction_takes_the_write_lock_when_it_begins_and_waits_for_a_busy_one(tmp_path) -> None:
    """Two writers that each read, then write (two trainings registering their next version) failed at
    once with "database is locked": SQLite cannot wait out that deadlock. Taking the lock at BEGIN makes
    the second wait its turn instead."""
    code = """
import sqlite3
from django.db import connection, transaction
with transaction.atomic():
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        print("free")
    except sqlite3.OperationalError as exc:
        print("held:", exc)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        print("busy_timeout", cursor.fetchone()[0])
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "journeyhub.settings.test",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(("held", "free", "busy_timeout"))]
    assert lines == ["held: database is locked", "busy_timeout 20000"]


def test_a_rewrite_lease_that_would_expire_at_once_refuses_to_start() -> None:
    result = _load_production(SECRET_KEY="s" * 50, ALLOWED_HOSTS="hub.example.com", EVENTS_REWRITE_LEASE_SECONDS="0")
    assert result.returncode != 0
    assert "EVENTS_REWRITE_LEASE_SECONDS must be more than 0, not 0.0" in result.stderr



@pytest.mark.parametrize("graph_url,level", [("", "WARNING"), ("ws://127.0.0.1:8182/gremlin", None)])
def test_the_local_demo_keeps_only_django_qs_warnings_when_its_jobs_run_in_the_server(graph_url: str,
                                                                                       level: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GRAPH_URL", "JOBS_IN_PROCESS")}
    env.update(DJANGO_SETTINGS_MODULE="journeyhub.settings.local", **({"GRAPH_URL": graph_url} if graph_url else {}))
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.JOBS_IN_PROCESS, settings.LOGGING['loggers'].get('django-q', {}).get('level'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{level is not None} {level}"
