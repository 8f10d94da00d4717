from django.core.management.base import BaseCommand, CommandError

from standards.models import Unit
from standards.services import unit_to_json


class Command(BaseCommand):
    help = "Print a unit as JSON (the format import_unit reads and fixtures/units/ holds)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="Unit code, e.g. 57 or BSBCUS301B")

    def handle(self, *args, code, **options):
        try:
            unit = Unit.objects.get(code__iexact=code.removeprefix("US"))
        except Unit.DoesNotExist:
            known = ", ".join(Unit.objects.values_list("code", flat=True)) or "none loaded"
            raise CommandError(f"No unit with code {code!r} (known: {known}).") from None
        self.stdout.write(unit_to_json(unit), ending="")
