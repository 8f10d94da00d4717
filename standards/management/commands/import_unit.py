from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from standards.services import UnitDataError, import_unit_file


class Command(BaseCommand):
    help = "Create or update units from JSON files written by export_unit. All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="JSON files, e.g. fixtures/units/*.json")

    def handle(self, *args, files, **options):
        try:
            with transaction.atomic():
                results = [import_unit_file(path) for path in files]
        except UnitDataError as error:
            raise CommandError(f"{error}. Nothing was imported.") from None
        for unit, created in results:
            self.stdout.write(f"{'Created' if created else 'Updated'} {unit}")
