import json

from django.core.management.base import BaseCommand, CommandError

from integrations import case
from standards.models import Unit


class Command(BaseCommand):
    help = "Print a unit as a 1EdTech CASE 1.1 package (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="Unit code, e.g. BSBCUS301B or 57")
        parser.add_argument("--unit-version", dest="unit_version", help="Default: the latest")

    def handle(self, code, unit_version=None, **options):
        units = Unit.objects.with_structure().filter(code=code)
        if unit_version:
            units = units.filter(version=unit_version)
        unit = units.order_by("-pk").first()
        if unit is None:
            raise CommandError(f"No unit {code} in the catalogue.")
        self.stdout.write(json.dumps(case.package(unit), indent=2, ensure_ascii=False))
