"""`python manage.py create_api_key NAME`: issue a key for a machine client and print it once."""
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.services import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a machine client; the key is printed once and stored hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name for the client, e.g. connect-lambda")

    def handle(self, *args: object, **options: str) -> None:
        try:
            _, raw = create_api_key(name=options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
        self.stderr.write("Send it as the header:  Authorization: Api-Key <key>  (it is not shown again)")
