from django.core.management.base import BaseCommand, CommandError

from standards.models import Unit
from standards.services import unit_to_json


class Command(BaseCommand):
    help = "Print a unit release as JSON (the format import_unit reads and fixtures/units/ holds)."

    def add_arguments(self, parser):
        parser.add_argument("code", help="Unit code, e.g. 57 or BSBCUS301B")
        parser.add_argument(
            "--release",
            metavar="VERSION",
            help="The version or release number; by default the current release.",
        )

    def handle(self, *args, code, release, **options):
        releases = Unit.objects.with_release_status().filter(code__iexact=code.removeprefix("US"))
        if release:
            releases = releases.filter(version=release)
        unit = releases.order_by("-is_current", "-version_number").first()
        if unit is None:
            known = ", ".join(
                sorted({f"{u.display_code} v{u.version}" for u in Unit.objects.all()})
            )
            asked = f"code {code!r}" + (f" and version {release!r}" if release else "")
            raise CommandError(f"No unit with {asked} (known: {known or 'none loaded'}).")
        self.stdout.write(unit_to_json(unit), ending="")
