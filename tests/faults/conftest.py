"""A migrated hub database made once per run and copied into each fault test (a migration costs tens of
seconds on a busy machine), with an API key for the decision, ingest and read endpoints."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.faults.hub import hub_env, manage

MIGRATE_AND_ISSUE_A_KEY = """
from django.core.management import call_command
from apps.core.models import ApiKey
call_command("migrate", interactive=False, verbosity=0)
print("KEY", ApiKey.issue("fault-test", scopes=["decide", "ingest", "read"])[1])
from django.db import connection
connection.close()  # the file is whole (write-ahead log checkpointed) before it is copied
"""


@pytest.fixture(scope="session")
def hub_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("hub-template")
    done = manage(hub_env(folder), "shell", "-c", MIGRATE_AND_ISSUE_A_KEY)
    key = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("KEY "))
    return folder / "db.sqlite3", key


@pytest.fixture
def hub(hub_template: tuple[Path, str], tmp_path: Path) -> tuple[dict[str, str], str]:
    """The environment of a hub of this test's own (a copy of the migrated database) and its API key."""
    database, key = hub_template
    shutil.copy(database, tmp_path / "db.sqlite3")
    return hub_env(tmp_path), key
