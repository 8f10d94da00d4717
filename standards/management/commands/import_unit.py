from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from standards.models import CatalogueCorrection
from standards.services import UnitDataError, import_unit_file


class Command(BaseCommand):
    help = (
        "Create or update unit releases from JSON files written by export_unit. All or nothing. "
        "A release that enrolments use takes wording corrections only, with --correction and --by."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="JSON files, e.g. fixtures/units/*.json")
        parser.add_argument(
            "--correction",
            metavar="REASON",
            default="",
            help="Why the wording of a release in use is corrected; each change is logged.",
        )
        parser.add_argument(
            "--by",
            metavar="USERNAME",
            help="The administrator making the correction (required with --correction).",
        )

    def handle(self, *args, files, correction, by, **options):
        corrected_by = None
        if correction.strip():
            if not by:
                raise CommandError("--correction needs --by USERNAME: who makes the correction.")
            corrected_by = get_user_model().objects.filter(username=by).first()
            if corrected_by is None:
                raise CommandError(f"No user {by!r}. Nothing was imported.")
        elif by:
            raise CommandError("--by is only used with --correction.")
        before = CatalogueCorrection.objects.count()
        try:
            with transaction.atomic():
                results = [
                    import_unit_file(path, correction_reason=correction, corrected_by=corrected_by)
                    for path in files
                ]
        except UnitDataError as error:
            raise CommandError(f"{error}. Nothing was imported.") from None
        for unit, created in results:
            self.stdout.write(
                f"{'Created' if created else 'Updated'} {unit.release_label}: {unit.title}"
            )
        corrected = CatalogueCorrection.objects.count() - before
        if corrected:
            self.stdout.write(f"Recorded {corrected} catalogue correction{'s' * (corrected != 1)}.")
