"""Full-text index over contacts' redacted transcripts: FTS5 on SQLite, GIN on PostgreSQL."""
from typing import Any

from django.db import migrations

from apps.conversations import fulltext


def create(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(fulltext.CREATE_SQLITE)
    elif vendor == "postgresql":
        schema_editor.execute(fulltext.CREATE_POSTGRES)


def drop(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(fulltext.DROP_SQLITE)
    elif vendor == "postgresql":
        schema_editor.execute(fulltext.DROP_POSTGRES)


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_contacts_turns_categories_rules")]
    operations = [migrations.RunPython(create, drop)]
