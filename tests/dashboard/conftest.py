"""Signed-in clients for each dashboard role, and the Chromium the browser tests drive."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_sync
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

PASSWORD = "correct-horse-battery"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu",
        "--no-first-run", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, started once per test module. Playwright's sync API runs an event loop in the
    test's thread; the ORM calls a test makes between page actions are ordinary blocking calls, which
    is safe, so Django's guard against them is off while the browser is up."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed: run scripts/install_chromium.sh (make test does)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch, playwright_sync.sync_playwright() as p:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@contextmanager
def recorded_page(browser: Any, base_url: str) -> Iterator[tuple[Any, list[str]]]:
    """A desktop-sized page of its own context, with the script and console errors it logs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    try:
        yield page, problems
    finally:
        context.close()


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    if role == "admin":
        user.is_staff = True
        user.save()
    elif role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])  # flushed by transactional tests
    return user


def client_for(username: str, role: str | None) -> Client:
    client = Client()
    client.force_login(make_user(username, role))
    return client


@pytest.fixture
def viewer(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("vera", "viewer")


@pytest.fixture
def analyst(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("anna", "analyst")


@pytest.fixture
def admin_client_(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("ada", "admin")
