"""Check every attempt's history chain; name the first broken link of each.

    manage.py verify_audit                  # every attempt; exit 1 if anything is broken
    manage.py verify_audit --assessment 12  # one attempt, with its head hash

The head hash printed for an attempt is the one its PDF record shows (as of
when the record was generated), so a printed record can be compared with the
database.
"""

from django.core.management.base import BaseCommand, CommandError

from assessments import audit
from assessments.models import Assessment


class Command(BaseCommand):
    help = "Verify the hash chains of the assessment history; exit 1 naming any broken link."

    def add_arguments(self, parser):
        parser.add_argument(
            "--assessment",
            type=int,
            action="append",
            metavar="ID",
            help="Check only this attempt (repeatable) and print its head hash.",
        )

    def handle(self, *args, assessment=None, **options):
        ids = assessment
        if ids:
            missing = set(ids) - set(
                Assessment.objects.filter(pk__in=ids).values_list("pk", flat=True)
            )
            if missing:
                raise CommandError(f"No assessment with id {', '.join(map(str, sorted(missing)))}.")
        chains = entries = 0
        broken = []
        reports = {}
        for report in audit.verify(ids):
            chains += 1
            entries += report.count
            reports[report.assessment_id] = report
            if report.broken:
                broken.append(str(report.broken))
        broken += list(audit.records_differing_from_history(ids))
        for pk in ids or []:
            report = reports.get(pk, audit.ChainReport(pk))
            state = "BROKEN" if report.broken else "verifies"
            self.stdout.write(
                f"Assessment {pk}: {report.count} entries, head hash {report.head} ({state})"
            )
        for problem in broken:
            self.stderr.write(f"BROKEN {problem}")
        summary = f"Checked {chains} chain(s), {entries} entries"
        if broken:
            raise CommandError(f"{summary}: {len(broken)} problem(s), the first: {broken[0]}")
        self.stdout.write(f"{summary}: every chain verifies.")
