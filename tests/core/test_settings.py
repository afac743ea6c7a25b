"""Production settings refuse to start without secrets and hosts from the environment."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_production(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="journeyhub.settings.production")
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.DEBUG, settings.ALLOWED_HOSTS)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=60)


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
