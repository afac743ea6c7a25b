"""`python manage.py create_api_key NAME --scope read --scope decide [--expires 2027-06-30]`: issue a key
for a machine client and print it once."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from apps.core.audit import acting_as
from apps.core.models import SCOPES, Scope
from apps.core.services import create_api_key


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """`30d` (from now), a date (the end of that day, UTC) or an ISO 8601 time (UTC unless it says)."""
    now = now or datetime.now(tz=UTC)
    if text[:-1].isdigit() and text.endswith("d"):
        return now + timedelta(days=int(text[:-1]))
    day = parse_date(text) if len(text) == 10 else None
    moment = datetime.combine(day, time.max) if day is not None else parse_datetime(text)
    if moment is None:
        raise ValueError(f"--expires {text!r}: expected 30d, 2027-06-30 or 2027-06-30T12:00:00Z")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment <= now:
        raise ValueError(f"--expires {text!r} is already in the past")
    return moment


class Command(BaseCommand):
    help = "Create an API key for a machine client; the key is printed once and stored hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name for the client, e.g. connect-lambda")
        parser.add_argument("--scope", action="append", choices=SCOPES, dest="scopes", metavar="SCOPE",
                            help=f"what the key may do (repeatable): {', '.join(SCOPES)}; default read")
        parser.add_argument("--expires", help="30d, a date (2027-06-30) or an ISO time; default never")

    def handle(self, *args: Any, **options: Any) -> None:
        scopes = options["scopes"] or [Scope.READ]
        try:
            expires = parse_expiry(options["expires"]) if options["expires"] else None
            with acting_as("command:create_api_key"):
                key, raw = create_api_key(name=options["name"], scopes=scopes, expires=expires)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
        until = f", expires {key.expires:%Y-%m-%d %H:%M} UTC" if key.expires else ""
        self.stderr.write(f"Scopes: {', '.join(key.scopes)}{until}. Send it as the header:  "
                          "Authorization: Api-Key <key>  (it is not shown again)")
