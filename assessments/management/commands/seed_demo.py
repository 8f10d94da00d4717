from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from assessment_portal.identifiers import usi_check_character
from assessments import moderation, services
from assessments.models import Assessment, Cohort, Enrolment
from evidence.models import Evidence, EvidenceMapping
from standards.models import PerformanceCriterion, Unit

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
        if not Evidence.objects.exists():
            self._story(users)
        self.stdout.write(
            f"Demo data ready. Log in as admin, assessor, assessor2, candidate … candidate4 "
            f"with the password {DEMO_PASSWORD!r}."
        )

    def _story(self, users):
        """Work at every stage, so each role's pages have something to show."""
        # Tama is collecting evidence for US57; Lucy has submitted hers.
        self._evidence(users["candidate"], "57", ["1.1", "1.2", "1.3"], "Our service chain")
        self._submit(users["candidate2"], "57", ["1.1", "1.2", "2.1", "2.2", "3.1"])
        # Mia is competent in BSBCUS301B; Jack is not yet, and resubmitting.
        criteria = [c.number for c in self._criteria("BSBCUS301B")]
        for name, not_yet in [("candidate4", set()), ("candidate3", {"2.3"})]:
            attempt = self._submit(users[name], "BSBCUS301B", criteria)
            self._judge(attempt, users["assessor2"], not_yet)
            services.sign_off(
                assessment=attempt,
                by=users["assessor2"],
                feedback="Show how you handled a customer complaint, start to finish."
                if not_yet
                else "",
                declaration_accepted=True,
            )
        today = timezone.localdate()
        round_ = moderation.create_round(
            unit=Unit.objects.get(code="BSBCUS301B"),
            name=f"BSBCUS301B validation {today:%Y}",
            period_start=today.replace(month=1, day=1),
            period_end=today,
            by=users["admin"],
        )
        moderation.draw_sample(
            round_=round_, by=users["admin"], moderators=[users["admin"]], seed=2026
        )

    def _criteria(self, code):
        return PerformanceCriterion.objects.filter(outcome__unit__code=code)

    def _evidence(self, candidate, code, numbers, title):
        evidence = Evidence.objects.create(
            candidate=candidate,
            kind=Evidence.Kind.WRITTEN,
            title=title,
            text=f"{title}: what I did at work, who was involved and what happened next.",
            recorded_by=candidate,
        )
        for criterion in self._criteria(code).filter(number__in=numbers):
            EvidenceMapping.objects.create(
                evidence=evidence, criterion=criterion, note="Described in the second paragraph."
            )
        return evidence

    def _submit(self, candidate, code, numbers):
        self._evidence(candidate, code, numbers, f"Workplace journal for {code}")
        attempt = Assessment.objects.get(enrolment__candidate=candidate, enrolment__unit__code=code)
        return services.submit_for_assessment(
            assessment=attempt, by=candidate, declaration_accepted=True
        )

    def _judge(self, attempt, assessor, not_yet):
        for judgement in attempt.judgements.select_related("criterion"):
            fails = judgement.criterion.number in not_yet
            services.record_judgement(
                judgement=judgement,
                by=assessor,
                expected_version=judgement.version,
                data={
                    "verdict": "not_yet" if fails else "satisfactory",
                    "methods": ["portfolio", "questioning"],
                    "range_items": [],
                    "valid": True,
                    "sufficient": not fails,
                    "authentic": True,
                    "current": True,
                    "comment": "The journal does not show the complaint being resolved."
                    if fails
                    else "",
                },
            )

    def _enrol(self, candidate, code, assessor, admin, cohort):
        unit = Unit.objects.get(code=code)
        if not Enrolment.objects.filter(candidate=candidate, unit=unit).exists():
            services.enrol(
                candidate=candidate, unit=unit, assessor=assessor, by=admin, cohort=cohort
            )
