from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessment_portal.identifiers import usi_check_character
from assessments import services
from assessments.models import Cohort, Enrolment
from standards.models import Unit

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - published in the README for demo logins

User = get_user_model()

# username, first, last, role, moderator, NSN, USI body (check character added)
PEOPLE = [
    ("admin", "Aroha", "Ngata", "administrator", True, "", ""),
    ("assessor", "Sam", "Whitford", "assessor", False, "", ""),
    ("assessor2", "Priya", "Raman", "assessor", True, "", ""),
    ("candidate", "Tama", "Hēnare", "candidate", False, "123456789", ""),
    ("candidate2", "Lucy", "Chen", "candidate", False, "234567891", ""),
    ("candidate3", "Jack", "Morrison", "candidate", False, "", "BNGH7C75F"),
    ("candidate4", "Mia", "Nguyen", "candidate", False, "", "3AW88YH9U"),
]

# cohort, members, unit code, assessor
COHORTS = [
    ("2026 Retail intake (NZ)", ["candidate", "candidate2"], "57", "assessor"),
    ("2026 Customer service (AU)", ["candidate3", "candidate4"], "BSBCUS301B", "assessor2"),
]
EXTRA_ENROLMENTS = [("candidate3", "BSBCUS501B", "assessor")]


class Command(BaseCommand):
    help = "Create demo accounts, cohorts and enrolments (development only; safe to repeat)."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Demo accounts have a published password; seed_demo runs only with DEBUG=1."
            )
        if not Unit.objects.exists():
            raise CommandError("Load the units first: manage.py import_unit fixtures/units/*.json")
        users = {}
        for username, first, last, role, moderator, nsn, usi_body in PEOPLE:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.org",
                    "role": role,
                    "is_moderator": moderator,
                    "is_staff": role == "administrator",
                    "is_superuser": role == "administrator",
                    "national_student_number": nsn,
                    "unique_student_identifier": (
                        usi_body + usi_check_character(usi_body) if usi_body else ""
                    ),
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            users[username] = user

        admin = users["admin"]
        for name, members, code, assessor in COHORTS:
            cohort, _ = Cohort.objects.get_or_create(name=name)
            cohort.candidates.add(*(users[m] for m in members))
            for member in members:
                self._enrol(users[member], code, users[assessor], admin, cohort)
        for candidate, code, assessor in EXTRA_ENROLMENTS:
            self._enrol(users[candidate], code, users[assessor], admin, None)
        self.stdout.write(
            f"Demo data ready. Log in as admin, assessor, assessor2, candidate … candidate4 "
            f"with the password {DEMO_PASSWORD!r}."
        )

    def _enrol(self, candidate, code, assessor, admin, cohort):
        unit = Unit.objects.get(code=code)
        if not Enrolment.objects.filter(candidate=candidate, unit=unit).exists():
            services.enrol(
                candidate=candidate, unit=unit, assessor=assessor, by=admin, cohort=cohort
            )
