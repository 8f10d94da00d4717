"""Seed a whole institution, to measure the pages at a real size (development only).

For ``--candidates N``: N/200 assessors (a quarter of them moderators), two
administrators, one cohort of 500 and the rest in cohorts of about 25, each
cohort enrolled in one to three units with an assessor per unit; evidence
files (small real files in storage) and written answers mapped to criteria;
attempts open, submitted and signed off, with resubmissions and amendments;
moderation rounds with samples, reviews and responses.

Rows are written in bulk, but built by the same rules the services apply
(``services.create_judgements``, ``services.carried_forward``,
``services.judgement_state``, ``uploads.check_upload``) and moderation goes
through the moderation services themselves. Everyone's password is the demo
password, so it refuses to run without DEBUG unless told the database is
disposable.
"""

import random
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from assessment_portal.identifiers import USI_ALPHABET, usi_check_character
from assessments import audit, moderation, services
from assessments.models import (
    Assessment,
    AuditEntry,
    Cohort,
    Enrolment,
    Judgement,
    ModerationSample,
    SignOff,
)
from evidence.models import Evidence, EvidenceFile, EvidenceMapping
from evidence.upload_handlers import max_upload_bytes
from evidence.uploads import check_upload, storage_name
from standards.models import PerformanceCriterion, Unit

from .seed_demo import DEMO_PASSWORD

User = get_user_model()

PREFIX = "scale-"
LARGE_COHORT = 500
COHORT_SIZE = 25
# Cohorts whose rows are built and written together; bounds the memory used.
COHORTS_PER_CHUNK = 40
FIRST_NAMES = [
    "Aroha",
    "Ben",
    "Chloe",
    "Daniel",
    "Ella",
    "Finn",
    "Grace",
    "Hemi",
    "Isla",
    "Jack",
    "Kiri",
    "Liam",
    "Mia",
    "Noah",
    "Olivia",
    "Priya",
    "Quinn",
    "Rawiri",
    "Sophie",
    "Tama",
    "Uma",
    "Vikram",
    "Wiremu",
    "Xin",
    "Yusuf",
    "Zara",
    "Anahera",
    "Lucas",
    "Amelia",
    "Mateo",
]
LAST_NAMES = [
    "Smith",
    "Ngata",
    "Chen",
    "Patel",
    "Williams",
    "Brown",
    "Taylor",
    "Wilson",
    "Nguyen",
    "Singh",
    "Walker",
    "Hēnare",
    "Kumar",
    "Martin",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lee",
    "Young",
    "King",
    "Wright",
    "Morrison",
    "Tane",
    "Raman",
    "Kaur",
    "Ali",
]
METHODS = [["portfolio", "questioning"], ["written"], ["observation", "questioning"]]


def nsn(i):
    return f"{200000000 + i}"


def usi(i):
    body, n = "", i + 1000
    for _ in range(9):
        body = USI_ALPHABET[n % len(USI_ALPHABET)] + body
        n //= len(USI_ALPHABET)
    return body + usi_check_character(body)


class Command(BaseCommand):
    help = "Seed N candidates with a year of assessment work, for benchmarks (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--candidates", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (same data).")
        parser.add_argument(
            "--i-know-this-is-not-production",
            action="store_true",
            help="Run without DEBUG: every seeded account has the published demo password.",
        )

    def handle(self, *args, **options):
        if not (settings.DEBUG or options["i_know_this_is_not_production"]):
            raise CommandError(
                "seed_scale creates accounts with a published password; run it with DEBUG=1, "
                "or with --i-know-this-is-not-production on a disposable database."
            )
        n = options["candidates"]
        if n < LARGE_COHORT + COHORT_SIZE:
            raise CommandError(f"--candidates must be at least {LARGE_COHORT + COHORT_SIZE}.")
        if not Unit.objects.exists():
            raise CommandError("Load the units first: manage.py import_unit fixtures/units/*.json")
        if User.objects.filter(username__startswith=PREFIX).exists():
            raise CommandError("This database has already been seeded by seed_scale.")
        self.rng = random.Random(options["seed"])
        self.now = timezone.now()
        started = time.monotonic()
        self._load_units()
        with transaction.atomic():
            self._people(n)
            self._cohorts(n)
        self._say(f"people and cohorts: {time.monotonic() - started:.1f}s")
        for first in range(0, len(self.cohorts), COHORTS_PER_CHUNK):
            with transaction.atomic():
                self._work(self.cohorts[first : first + COHORTS_PER_CHUNK])
        self._say(f"enrolments, evidence and attempts: {time.monotonic() - started:.1f}s")
        self._moderation()
        self._say(
            f"Seeded {n} candidates in {time.monotonic() - started:.1f}s: "
            f"{Enrolment.objects.count()} enrolments, {Judgement.objects.count()} judgements, "
            f"{Evidence.objects.count()} evidence items, "
            f"{ModerationSample.objects.count()} moderation samples. "
            f"Password for every {PREFIX}* account: {DEMO_PASSWORD!r}."
        )

    def _say(self, message):
        self.stdout.write(message)

    def _load_units(self):
        self.units = list(Unit.objects.order_by("code"))
        criteria = PerformanceCriterion.objects.prefetch_related("range_statements__items")
        self.criteria = {unit.pk: [] for unit in self.units}
        for criterion in criteria.select_related("outcome").order_by("sort_key"):
            items = [i.pk for s in criterion.range_statements.all() for i in s.items.all()]
            self.criteria[criterion.outcome.unit_id].append((criterion.pk, items))
        self.file_type = check_upload(ContentFile(b"log", name="log.txt"), 1024).type

    # --- people and cohorts ------------------------------------------------------------

    def _people(self, n):
        password = make_password(DEMO_PASSWORD)
        rng = self.rng

        def person(username, role, **extra):
            return User(
                username=f"{PREFIX}{username}",
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                email=f"{PREFIX}{username}@example.org",
                role=role,
                password=password,
                **extra,
            )

        staff = [
            person(f"admin{i}", "administrator", is_moderator=True, is_staff=True) for i in (1, 2)
        ]
        staff += [
            person(f"assessor{i}", "assessor", is_moderator=i % 4 == 0)
            for i in range(1, max(4, n // 200) + 1)
        ]
        User.objects.bulk_create(staff)
        candidates = [
            person(
                f"candidate{i}",
                "candidate",
                **(
                    {"national_student_number": nsn(i)}
                    if i % 2
                    else {"unique_student_identifier": usi(i)}
                ),
            )
            for i in range(1, n + 1)
        ]
        User.objects.bulk_create(candidates, batch_size=2000)
        self.admins = [u for u in staff if u.role == "administrator"]
        self.assessors = [u for u in staff if u.role == "assessor"]
        self.candidates = candidates

    def _cohorts(self, n):
        sizes = [LARGE_COHORT] + [COHORT_SIZE] * ((n - LARGE_COHORT) // COHORT_SIZE)
        sizes[-1] += n - sum(sizes)
        cohorts, first = [], 0
        for number, size in enumerate(sizes, 1):
            started = self.now - timedelta(days=self.rng.randint(20, 420))
            name = f"{started:%Y} {'large intake' if size == LARGE_COHORT else 'group'} {number}"
            cohort = Cohort(name=f"{PREFIX}{name}", description="Seeded for benchmarks.")
            cohort.started, cohort.members = started, self.candidates[first : first + size]
            units = self.rng.choices([1, 2, 3], weights=[4, 4, 2])[0]
            cohort.units = self.rng.sample(self.units, min(units, len(self.units)))
            if size == LARGE_COHORT:
                # A new intake in its first unit: the rest are still to be enrolled.
                cohort.units = self.units[:1]
            cohort.assessor = {unit.pk: self.rng.choice(self.assessors) for unit in cohort.units}
            cohorts.append(cohort)
            first += size
        Cohort.objects.bulk_create(cohorts)
        Cohort.candidates.through.objects.bulk_create(
            (
                Cohort.candidates.through(cohort_id=cohort.pk, user_id=member.pk)
                for cohort in cohorts
                for member in cohort.members
            ),
            batch_size=5000,
        )
        self.cohorts = cohorts

    # --- enrolments, evidence, attempts ----------------------------------------------------

    def _work(self, cohorts):
        admin = self.admins[0]
        enrolments = Enrolment.objects.bulk_create(
            Enrolment(
                candidate=member,
                unit=unit,
                assessor=cohort.assessor[unit.pk],
                cohort=cohort,
                due_date=(cohort.started + timedelta(days=180)).date(),
                enrolled_by=admin,
            )
            for cohort in cohorts
            for unit in cohort.units
            for member in cohort.members
        )
        for cohort in cohorts:
            # auto_now_add stamps the seeding time; the cohort started earlier.
            Enrolment.objects.filter(cohort=cohort).update(enrolled_at=cohort.started)
        for enrolment in enrolments:
            enrolment.story = self._story(enrolment)
        self._evidence(enrolments)
        self._attempts(enrolments)

    def _story(self, enrolment):
        """The attempts of one enrolment: a list of (status, result) oldest first."""
        r = self.rng.random()
        done, no = ("signed_off", "achieved"), ("signed_off", "not_achieved")
        if r < 0.25:
            return [("open", "")]
        if r < 0.40:
            return [("submitted", "")]
        if r < 0.80:
            return [done]
        if r < 0.88:
            return [no, ("open", "")]
        if r < 0.93:
            return [no, ("submitted", "")]
        if r < 0.98:
            return [no, done]
        return [no, no, ("open", "")]

    def _evidence(self, enrolments):
        """Two to four items per enrolment, together mapped to most of the unit's criteria."""
        rng, max_bytes = self.rng, max_upload_bytes()
        items, files, plan = [], [], []
        for enrolment in enrolments:
            criteria = [pk for pk, _ in self.criteria[enrolment.unit_id]]
            count = rng.randint(2, 4)
            enrolment.items = []
            for k in range(count):
                kind = Evidence.Kind.FILE if k % 2 == 0 else Evidence.Kind.WRITTEN
                title = (
                    f"{enrolment.unit.code} {'workplace log' if k % 2 == 0 else 'answer'} {k + 1}"
                )
                item = Evidence(
                    candidate=enrolment.candidate,
                    kind=kind,
                    title=title,
                    description="What I did at work, and who was there.",
                    text="" if kind == Evidence.Kind.FILE else f"{title}: how I dealt with it.",
                    recorded_by=enrolment.candidate,
                )
                items.append(item)
                enrolment.items.append(item)
                plan.append((item, criteria[k::count]))
        Evidence.objects.bulk_create(items, batch_size=2000)
        for item in items:
            if item.kind != Evidence.Kind.FILE:
                continue
            content = f"Workplace log {item.pk} of {item.candidate}: {item.title}.\n".encode()
            checked = check_upload(ContentFile(content, name=f"log-{item.pk}.txt"), max_bytes)
            files.append(
                EvidenceFile(
                    evidence=item,
                    file=default_storage.save(storage_name(checked), ContentFile(content)),
                    original_name=checked.original_name,
                    content_type=checked.type.mime,
                    size=checked.size,
                    sha256=checked.sha256,
                )
            )
        EvidenceFile.objects.bulk_create(files, batch_size=2000)
        EvidenceMapping.objects.bulk_create(
            (
                EvidenceMapping(evidence=item, criterion_id=pk, note="See the second paragraph.")
                for item, criteria in plan
                for pk in criteria
            ),
            batch_size=5000,
        )

    def _when(self, enrolment, step, of):
        """A time within the enrolment's life so far, later for later steps."""
        span = (self.now - enrolment.cohort.started).total_seconds()
        fraction = (step + self.rng.random()) / (of + 1)
        return enrolment.cohort.started + timedelta(seconds=span * fraction)

    def _attempts(self, enrolments):
        rng = self.rng
        attempts = Assessment.objects.bulk_create(
            Assessment(
                enrolment=enrolment,
                unit_id=enrolment.unit_id,
                attempt=number,
                status=status,
                result=result,
                declaration="" if status == "open" else services.CANDIDATE_DECLARATION,
                submitted_at=None
                if status == "open"
                else self._when(enrolment, 2 * number - 2, 2 * len(enrolment.story)),
            )
            for enrolment in enrolments
            for number, (status, result) in enumerate(enrolment.story, 1)
        )
        by_enrolment = {}
        for attempt in attempts:
            by_enrolment.setdefault(attempt.enrolment_id, []).append(attempt)
        judgements, item_links, sign_offs, entries, amendments = [], [], [], [], []
        for enrolment in enrolments:
            previous = None
            criteria = self.criteria[enrolment.unit_id]
            for attempt in by_enrolment[enrolment.pk]:
                attempt.enrolment = enrolment
                rows = self._judgements(attempt, criteria, previous, entries)
                judgements += rows
                if attempt.status != "open":
                    item_links += [(attempt, item) for item in enrolment.items]
                    entries.append(
                        AuditEntry(
                            assessment=attempt,
                            action="submitted",
                            actor=enrolment.candidate,
                            at=attempt.submitted_at,
                            after={
                                "evidence": sorted(i.pk for i in enrolment.items),
                                "declared_at": attempt.submitted_at.isoformat(),
                            },
                        )
                    )
                if attempt.status == "signed_off":
                    signed_at = min(
                        attempt.submitted_at + timedelta(days=rng.randint(1, 14)), self.now
                    )
                    feedback = (
                        ""
                        if attempt.result == "achieved"
                        else "Show how you resolved a complaint, start to finish."
                    )
                    sign_offs.append(
                        SignOff(
                            assessment=attempt,
                            result=attempt.result,
                            feedback=feedback,
                            declaration=services.ASSESSOR_DECLARATION,
                            signed_by=enrolment.assessor,
                            signed_at=signed_at,
                        )
                    )
                    if rng.random() < 0.01 and attempt is by_enrolment[enrolment.pk][-1]:
                        amendments.append((attempt, self.admins[1]))
                previous = rows
        Judgement.objects.bulk_create(judgements, batch_size=5000)
        Judgement.range_items.through.objects.bulk_create(
            (
                Judgement.range_items.through(judgement_id=j.pk, rangeitem_id=item)
                for j in judgements
                for item in j.covered
            ),
            batch_size=5000,
        )
        Assessment.evidence.through.objects.bulk_create(
            (
                Assessment.evidence.through(assessment_id=a.pk, evidence_id=i.pk)
                for a, i in item_links
            ),
            batch_size=5000,
        )
        SignOff.objects.bulk_create(sign_offs, batch_size=2000)
        # The signed record goes into the chain as the service writes it (audit.sign_off_content).
        entries += [
            AuditEntry(
                assessment=signed.assessment,
                action="signed off",
                actor=signed.signed_by,
                at=signed.signed_at,
                after=audit.sign_off_content(signed),
            )
            for signed in sign_offs
        ]
        for entry in entries:
            if entry.judgement is not None:
                entry.judgement_id = entry.judgement.pk
        AuditEntry.objects.bulk_create(audit.chain_new(entries), batch_size=5000)
        # Few, so through the service itself: the amendment, its audit entry, the new result.
        for attempt, by in amendments:
            services.amend_result(
                assessment=attempt,
                by=by,
                new_result="not_achieved" if attempt.result == "achieved" else "achieved",
                reason="The workplace supervisor's report was filed against the wrong candidate.",
            )

    def _judgements(self, attempt, criteria, previous, entries):
        """The attempt's judgements as the assessor left them, and their audit entries."""
        rng = self.rng
        carried = {j.criterion_id: j for j in previous or [] if j.verdict == "satisfactory"}
        if attempt.status == "signed_off":
            judged = len(criteria)
        elif attempt.status == "submitted":
            judged = rng.randint(0, len(criteria))
        else:
            judged = 0
        not_yet = set()
        if attempt.result == "not_achieved":
            open_ = [pk for pk, _ in criteria if pk not in carried]
            not_yet = set(rng.sample(open_, min(len(open_), rng.randint(1, 2))))
        rows = []
        assessor = attempt.enrolment.assessor
        for index, (criterion_id, items) in enumerate(criteria):
            if criterion_id in carried:
                earlier = carried[criterion_id]
                row = Judgement(
                    assessment=attempt,
                    criterion_id=criterion_id,
                    **services.carried_forward(earlier),
                )
                row.covered = earlier.covered
            elif index < judged:
                fails = criterion_id in not_yet
                when = attempt.submitted_at + timedelta(hours=rng.randint(1, 20))
                row = Judgement(
                    assessment=attempt,
                    criterion_id=criterion_id,
                    verdict="not_yet" if fails else "satisfactory",
                    methods=rng.choice(METHODS),
                    valid=True,
                    sufficient=not fails,
                    authentic=True,
                    current=True,
                    comment="The log does not show the complaint resolved." if fails else "",
                    version=1,
                    updated_by=assessor,
                    updated_at=when,
                )
                row.covered = [] if fails else items
                blank = Judgement()
                entries.append(
                    AuditEntry(
                        assessment=attempt,
                        judgement=row,
                        action="judgement changed",
                        actor=assessor,
                        at=when,
                        before=services.judgement_state(blank, range_item_ids=[]),
                        after=services.judgement_state(row, range_item_ids=row.covered),
                    )
                )
            else:
                row = Judgement(assessment=attempt, criterion_id=criterion_id)
                row.covered = []
            rows.append(row)
        return rows

    # --- moderation --------------------------------------------------------------------------

    def _moderation(self):
        """Per unit: two sampled rounds (half a year each), mostly reviewed, and one to sample."""
        rng, admin = self.rng, self.admins[0]
        moderators = [u for u in self.assessors if u.is_moderator] + self.admins
        today = timezone.localdate()
        for unit in self.units:
            for months_back, name in [(12, "first half"), (6, "second half"), (3, "this quarter")]:
                start = today - timedelta(days=30 * months_back)
                end = today - timedelta(days=30 * (months_back - 6)) if months_back > 3 else today
                try:
                    round_ = moderation.create_round(
                        unit=unit,
                        name=f"{PREFIX}{unit.display_code} {name}",
                        period_start=start,
                        period_end=min(end, today),
                        by=admin,
                    )
                except ValidationError:
                    continue  # nothing signed off in that period
                if months_back == 3:
                    continue
                samples = moderation.draw_sample(
                    round_=round_, by=admin, moderators=moderators, seed=rng.randrange(2**31)
                )
                for sample in samples[: int(len(samples) * 0.7)]:
                    self._review(sample)

    def _review(self, sample):
        judgements = list(
            sample.assessment.judgements.select_related("criterion").prefetch_related(
                Prefetch("range_items")
            )
        )
        disagree = {judgements[0].pk} if self.rng.random() < 0.1 else set()
        review = moderation.submit_review(
            sample=sample,
            by=sample.moderator,
            criteria={
                j.pk: (
                    j.pk not in disagree,
                    "The evidence does not show this." if j.pk in disagree else "",
                )
                for j in judgements
            },
            agrees_with_result=not disagree,
            recommendation="Ask for a further workplace observation." if disagree else "",
        )
        if disagree:
            moderation.respond(
                review=review,
                by=sample.assessor,
                text="Agreed; the observation is booked for next month.",
            )
