"""Domain rules for enrolments and assessments.

Views and management commands call these; each multi-step write is atomic
and raises ``ValidationError`` with a message for the user when a rule is
broken, leaving the database unchanged.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from standards.models import PerformanceCriterion, RangeItem, Unit

from . import audit, signals
from .models import (
    Amendment,
    Assessment,
    AuditEntry,
    Enrolment,
    Judgement,
    ModerationSample,
    SignOff,
)

audit_log = logging.getLogger("assessment_portal.audit")


def _check_roles(candidate, assessor):
    if not candidate.is_candidate:
        raise ValidationError(f"{candidate} is not a candidate.")
    check_assessor(assessor)


def check_assessor(assessor):
    if not assessor.is_assessor:
        raise ValidationError(f"{assessor} is not an assessor.")
    if not assessor.is_active:
        raise ValidationError(f"{assessor}'s account is deactivated; choose another assessor.")


def _check_current(unit):
    """New enrolments take the current release."""
    if not Unit.objects.current().filter(pk=unit.pk).exists():
        raise ValidationError(
            f"{unit.release_label} is no longer current; enrol in the current release."
        )


def _check_release(candidate, unit):
    """The current release, and one release of a unit per candidate."""
    _check_current(unit)
    other = Enrolment.objects.filter(candidate=candidate, unit__code=unit.code).exclude(unit=unit)
    if other.exists():
        raise ValidationError(
            f"{candidate} is already enrolled in {other.first().unit.release_label}."
        )


def enrol(*, candidate, unit, assessor, by, cohort=None, due_date=None):
    """Enrol one candidate in the current release of a unit with an assessor assigned."""
    _check_roles(candidate, assessor)
    _check_release(candidate, unit)
    try:
        with transaction.atomic():
            enrolment = Enrolment.objects.create(
                candidate=candidate,
                unit=unit,
                assessor=assessor,
                cohort=cohort,
                due_date=due_date,
                enrolled_by=by,
            )
            open_attempt(enrolment, attempt=1)
    except IntegrityError:
        # The unique constraint, not a prior lookup, decides: two administrators
        # enrolling the same candidate at once cannot both succeed.
        raise ValidationError(f"{candidate} is already enrolled in {unit.display_code}.") from None
    audit_log.info(
        "enrolled: enrolment=%s candidate=%s unit=%s assessor=%s by=%s",
        enrolment.pk,
        candidate.pk,
        unit.code,
        assessor.pk,
        by.pk,
    )
    return enrolment


@transaction.atomic
def enrol_cohort(*, cohort, unit, assessor, by, due_date=None):
    """Enrol every candidate of a cohort; those already enrolled are skipped.

    Returns (enrolled, skipped) lists of candidates. The rows are written in
    bulk, so the number of queries grows neither with the cohort nor with
    the unit's criteria.
    """
    candidates = list(cohort.candidates.filter(is_active=True).order_by("pk"))
    if not candidates:
        raise ValidationError(f"Cohort {cohort} has no active candidates to enrol.")
    for candidate in candidates:
        _check_roles(candidate, assessor)
    _check_current(unit)
    # Enrolled in this unit already, in this release or an earlier one: skipped.
    already = set(
        Enrolment.objects.filter(unit__code=unit.code, candidate__in=candidates).values_list(
            "candidate_id", flat=True
        )
    )
    enrolled = [c for c in candidates if c.pk not in already]
    skipped = [c for c in candidates if c.pk in already]
    try:
        with transaction.atomic():
            enrolments = Enrolment.objects.bulk_create(
                Enrolment(
                    candidate=candidate,
                    unit=unit,
                    assessor=assessor,
                    cohort=cohort,
                    due_date=due_date,
                    enrolled_by=by,
                )
                for candidate in enrolled
            )
            attempts = Assessment.objects.bulk_create(
                Assessment(enrolment=enrolment, unit=unit, attempt=1) for enrolment in enrolments
            )
            create_judgements(
                attempts,
                PerformanceCriterion.objects.filter(outcome__unit=unit).values_list(
                    "pk", flat=True
                ),
            )
    except IntegrityError:
        raise ValidationError(
            f"Someone enrolled candidates of {cohort} in {unit.display_code} at the same time; "
            "nothing was enrolled. Try again to enrol the rest."
        ) from None
    for enrolment in enrolments:
        audit_log.info(
            "enrolled: enrolment=%s candidate=%s unit=%s assessor=%s by=%s cohort=%s",
            enrolment.pk,
            enrolment.candidate_id,
            unit.code,
            assessor.pk,
            by.pk,
            cohort.pk,
        )
    return enrolled, skipped


@transaction.atomic
def reassign_assessor(*, enrolment, assessor, by):
    """Give the enrolment another assessor.

    Refused when the new assessor moderates one of its attempts still awaiting review:
    the assessor of an enrolment has a part in its decisions and cannot moderate them.
    The administrator first gives that sample to another moderator, or picks someone else.
    """
    _check_roles(enrolment.candidate, assessor)
    # The row lock orders this against moderator assignments and reviews of its attempts.
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    moderating = (
        ModerationSample.objects.filter(
            assessment__enrolment=enrolment, moderator=assessor, review__isnull=True
        )
        .select_related("round", "assessment")
        .first()
    )
    if moderating:
        raise ValidationError(
            f"{assessor} is the moderator of attempt {moderating.assessment.attempt} of this "
            f"enrolment in the moderation round “{moderating.round.name}”, not yet reviewed; "
            "as its assessor they could no longer moderate it. Give that sample to another "
            "moderator first (Moderation, the round, “change” beside the moderator), or "
            "choose another assessor."
        )
    previous = enrolment.assessor_id
    enrolment.assessor = assessor
    enrolment.save(update_fields=["assessor"])
    audit_log.info(
        "assessor reassigned: enrolment=%s from=%s to=%s by=%s",
        enrolment.pk,
        previous,
        assessor.pk,
        by.pk,
    )
    return enrolment


def update_enrolment(*, enrolment, by, assessor=None, due_date=None, cohort=None):
    """Change an enrolment's assessor, due date and cohort (what an SMS pushes in).

    Only the values given change; ``due_date`` and ``cohort`` accept the
    sentinel ``CLEAR`` to remove them.
    """
    with transaction.atomic():
        if assessor is not None and assessor.pk != enrolment.assessor_id:
            reassign_assessor(enrolment=enrolment, assessor=assessor, by=by)
        fields = []
        if due_date is not None:
            enrolment.due_date = None if due_date is CLEAR else due_date
            fields.append("due_date")
        if cohort is not None:
            enrolment.cohort = None if cohort is CLEAR else cohort
            fields.append("cohort")
        if fields:
            enrolment.save(update_fields=fields)
            audit_log.info(
                "enrolment updated: enrolment=%s fields=%s by=%s",
                enrolment.pk,
                ",".join(fields),
                by.pk,
            )
    return enrolment


# Passed to update_enrolment to remove a value rather than leave it unchanged.
CLEAR = object()


# --- attempts ---------------------------------------------------------------

CANDIDATE_DECLARATION = (
    "I declare that the evidence I have submitted is my own work, that it was "
    "produced by me (or, for third-party reports, about my own performance), "
    "and that I have acknowledged any sources I used."
)
ASSESSOR_DECLARATION = (
    "I declare that I have judged this evidence against every criterion of the "
    "unit, that my judgements follow the rules of evidence (valid, sufficient, "
    "authentic, current), and that the result recorded is my decision."
)


def carried_forward(earlier):
    """The fields of a satisfactory judgement that a resubmission carries into its next attempt."""
    return {
        "verdict": earlier.verdict,
        "methods": earlier.methods,
        "valid": earlier.valid,
        "sufficient": earlier.sufficient,
        "authentic": earlier.authentic,
        "current": earlier.current,
        "comment": earlier.comment,
        "carried_forward": True,
        "updated_by_id": earlier.updated_by_id,
        "updated_at": earlier.updated_at,
    }


def create_judgements(assessments, criterion_ids):
    """One blank judgement per criterion for each new attempt, in one INSERT per batch."""
    return Judgement.objects.bulk_create(
        Judgement(assessment=a, criterion_id=c) for a in assessments for c in criterion_ids
    )


def open_attempt(enrolment, *, attempt, previous=None):
    """Create an attempt with a judgement row for every criterion of the unit.

    A resubmission carries forward what was satisfactory in the previous
    attempt; only the rest is reassessed. The number of queries does not
    depend on how many criteria the unit has.
    """
    assessment = Assessment.objects.create(enrolment=enrolment, attempt=attempt)
    criterion_ids = list(
        PerformanceCriterion.objects.filter(outcome__unit=enrolment.unit_id).values_list(
            "pk", flat=True
        )
    )
    carried = {}
    if previous is not None:
        carried = {
            j.criterion_id: j
            for j in previous.judgements.filter(
                verdict=Judgement.Verdict.SATISFACTORY
            ).prefetch_related("range_items")
        }
    judgements = Judgement.objects.bulk_create(
        Judgement(
            assessment=assessment,
            criterion_id=criterion_id,
            **(carried_forward(carried[criterion_id]) if criterion_id in carried else {}),
        )
        for criterion_id in criterion_ids
    )
    Judgement.range_items.through.objects.bulk_create(
        Judgement.range_items.through(judgement_id=judgement.pk, rangeitem_id=item.pk)
        for judgement in judgements
        if judgement.criterion_id in carried
        for item in carried[judgement.criterion_id].range_items.all()
    )
    if previous is not None:
        signals.attempt_reopened.send(Assessment, assessment=assessment, previous=previous)
    return assessment


def _locked(assessment):
    """Re-read the attempt under a row lock so concurrent writers queue up."""
    return (
        Assessment.objects.select_for_update()
        .select_related("enrolment__unit")
        .get(pk=assessment.pk)
    )


@transaction.atomic
def submit_for_assessment(*, assessment, by, declaration_accepted):
    """The candidate declares the evidence their own and submits it; it is then locked.

    Every item the candidate has mapped to a criterion of this unit goes in.
    """
    from evidence.services import items_for_unit

    assessment = _locked(assessment)
    enrolment = assessment.enrolment
    if by.pk != enrolment.candidate_id:
        raise PermissionDenied
    if enrolment.status != Enrolment.Status.ACTIVE:
        raise ValidationError(
            f"This enrolment is {enrolment.get_status_display().lower()}; it cannot be submitted."
        )
    if assessment.status == Assessment.Status.CLOSED:
        raise ValidationError(
            f"Attempt {assessment.attempt} was closed when an earlier result was amended; "
            "there is nothing more to submit."
        )
    if assessment.status != Assessment.Status.OPEN:
        raise ValidationError(f"Attempt {assessment.attempt} has already been submitted.")
    if not declaration_accepted:
        raise ValidationError("Confirm the authenticity declaration to submit.")
    items = items_for_unit(by, enrolment.unit)
    if not items.exists():
        raise ValidationError(
            f"Map at least one evidence item to a criterion of {enrolment.unit.display_code} "
            "before submitting."
        )
    now = timezone.now()
    assessment.evidence.add(*items)
    assessment.status = Assessment.Status.SUBMITTED
    assessment.declaration = CANDIDATE_DECLARATION
    assessment.submitted_at = now
    assessment.save(update_fields=["status", "declaration", "submitted_at"])
    audit.append(
        assessment,
        action="submitted",
        actor=by,
        after={
            "evidence": sorted(items.values_list("pk", flat=True)),
            "declared_at": now.isoformat(),
        },
    )
    audit_log.info("submitted: assessment=%s by=%s", assessment.pk, by.pk)
    signals.attempt_submitted.send(Assessment, assessment=assessment, by=by)
    return assessment


# --- judging ------------------------------------------------------------------


class StaleJudgement(ValidationError):
    """Someone else saved this judgement since the form was loaded."""


def can_judge(user, assessment):
    return user.pk == assessment.enrolment.assessor_id


def judgement_state(judgement, range_item_ids=None):
    """A judgement as plain data, for the audit trail.

    ``range_item_ids`` stands in for the saved range items of a judgement not yet written.
    """
    if range_item_ids is None:
        range_item_ids = [item.pk for item in judgement.range_items.all()]
    return {
        "verdict": judgement.verdict,
        "methods": list(judgement.methods),
        "range_items": sorted(range_item_ids),
        "valid": judgement.valid,
        "sufficient": judgement.sufficient,
        "authentic": judgement.authentic,
        "current": judgement.current,
        "comment": judgement.comment,
    }


def coverage_problems(statements, covered_item_ids):
    """Why a criterion cannot yet be satisfactory under its range's coverage rule.

    ``statements`` as ``criterion_range`` returns them.
    """
    problems = []
    for statement, items in statements:
        required = required_count(statement, items)
        covered = [item for item in items if item.pk in covered_item_ids]
        if len(covered) < required:
            label = f"“{statement.term}”" if statement.term else "the range"
            if statement.coverage == statement.Coverage.ALL:
                missing = ", ".join(item.text for item in items if item.pk not in covered_item_ids)
                problems.append(
                    f"Every item of {label} must be covered; not yet covered: {missing}."
                )
            else:
                problems.append(
                    f"At least {required} items of {label} must be covered; {len(covered)} are."
                )
    return problems


def required_count(statement, items):
    """How many of a statement's items a satisfactory criterion must cover."""
    if statement.coverage == statement.Coverage.ALL:
        return len(items)
    return statement.minimum or 0


def coverage_rule(statement, items):
    """The coverage rule in words, stated where the range items are ticked."""
    if statement.coverage == statement.Coverage.ALL:
        return "All items required"
    if statement.coverage == statement.Coverage.MINIMUM:
        return f"At least {statement.minimum} of {len(items)}"
    return "Examples only"


RULES_OF_EVIDENCE = ["valid", "sufficient", "authentic", "current"]


def _count(judgements, **filters):
    counted = judgements.filter(**filters).order_by().values("assessment").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n")[:1], output_field=IntegerField()), 0)


def _for_judging(judgement_pk, assessment_pk=None):
    """The judgement, its attempt and criterion, locked, with the attempt's progress counts.

    One query: the attempt row is locked too, so a save and a sign-off queue up,
    and the head of the attempt's audit chain is read under that lock.
    """
    siblings = Judgement.objects.filter(assessment=OuterRef("assessment"))
    last_entry = AuditEntry.objects.filter(assessment=OuterRef("assessment")).order_by("-sequence")
    judgements = Judgement.objects.filter(pk=judgement_pk)
    if assessment_pk is not None:
        judgements = judgements.filter(assessment=assessment_pk)
    return (
        # PostgreSQL refuses FOR UPDATE of the nullable side of the outer join to updated_by.
        judgements.select_for_update(of=("self", "assessment"))
        .select_related("assessment__enrolment__unit", "criterion__outcome", "updated_by")
        .annotate(
            total_count=_count(siblings),
            judged_count=_count(siblings, verdict__gt=""),
            satisfactory_count=_count(siblings, verdict=Judgement.Verdict.SATISFACTORY),
            audit_sequence=Subquery(last_entry.values("sequence")[:1]),
            audit_hash=Subquery(last_entry.values("hash")[:1]),
        )
        .get()
    )


def criterion_range(criterion, judgement=None):
    """The criterion's range statements, each with its items, in one query.

    With ``judgement``, each item also says whether that judgement covers it.
    Returns [(statement, [item, ...]), ...]; statements keep their own order.
    """
    items = RangeItem.objects.filter(range_statement__criteria=criterion).select_related(
        "range_statement"
    )
    if judgement is not None:
        covered = Judgement.range_items.through.objects.filter(
            judgement=judgement, rangeitem=OuterRef("pk")
        )
        items = items.annotate(covered=Exists(covered))
    return _by_statement(items.order_by("range_statement__position", "position"))


def attempt_ranges(assessment):
    """Every criterion's range in the attempt, items marked ``covered`` by its judgement.

    One query for the whole unit (a marking page shows every criterion):
    {criterion id: [(statement, [item, ...]), ...]} as ``criterion_range`` gives each.
    """
    covered = Judgement.range_items.through.objects.filter(
        judgement__assessment=assessment,
        judgement__criterion=OuterRef("criterion_id"),
        rangeitem=OuterRef("pk"),
    )
    # One row per item and criterion its statement explains: each criterion gets its own items.
    items = (
        RangeItem.objects.filter(range_statement__unit=assessment.enrolment.unit_id)
        .annotate(criterion_id=F("range_statement__criteria"), covered=Exists(covered))
        .select_related("range_statement")
        .order_by("range_statement__position", "position")
    )
    by_criterion = {}
    for item in items:
        by_criterion.setdefault(item.criterion_id, []).append(item)
    return {pk: _by_statement(rows) for pk, rows in by_criterion.items()}


def range_item_texts(ranges):
    """{pk: text} of every range item in ``ranges`` (as ``attempt_ranges`` gives them): what
    the history names (history.history_rows), without reading the items again."""
    return {
        item.pk: item.text
        for statements in ranges.values()
        for _, items in statements
        for item in items
    }


def _by_statement(items):
    statements = {}
    for item in items:
        statements.setdefault(item.range_statement, []).append(item)
    return list(statements.items())


@dataclass
class Progress:
    judged: int
    total: int
    satisfactory: int

    @property
    def proposed_result(self):
        """Achieved only when every criterion is satisfactory; None while any is unjudged."""
        if not self.total or self.judged < self.total:
            return None
        if self.satisfactory == self.total:
            return Assessment.Result.ACHIEVED
        return Assessment.Result.NOT_ACHIEVED


def progress(assessment):
    counts = assessment.judgements.aggregate(
        total=Count("pk"),
        judged=Count("pk", filter=~Q(verdict="")),
        satisfactory=Count("pk", filter=Q(verdict=Judgement.Verdict.SATISFACTORY)),
    )
    return Progress(**counts)


@transaction.atomic
def record_judgement(*, judgement, by, expected_version, data, assessment_pk=None):
    """Save the assessor's judgement of one criterion.

    ``data`` holds verdict, methods, range_items (RangeItem objects or their
    ids), the four rules of evidence and comment. The save is refused, changing
    nothing, if the judgement changed since ``expected_version`` was read.

    Returns the saved judgement with ``range`` (see ``criterion_range``, items
    marked ``covered``) and ``progress`` (the attempt's, after this save), so
    that a page can show it without reading it again. With ``assessment_pk``,
    a judgement of another attempt is ``Judgement.DoesNotExist``.
    """
    current = _for_judging(judgement.pk, assessment_pk)
    assessment = current.assessment
    if not can_judge(by, assessment):
        raise PermissionDenied
    if assessment.status != Assessment.Status.SUBMITTED:
        raise ValidationError(
            "This attempt is not awaiting judgement"
            + (
                " (it is signed off)."
                if assessment.status == "signed_off"
                else " (not submitted yet)."
            )
        )
    if current.version != expected_version:
        raise StaleJudgement(
            f"{current.criterion.number} was changed by {current.updated_by} at "
            f"{timezone.localtime(current.updated_at):%H:%M:%S on %d %b %Y} after you opened it. "
            "Your changes were not saved; reload to see theirs, then judge again."
        )

    statements = criterion_range(current.criterion, judgement=current)
    allowed = {item.pk: item for _, items in statements for item in items}
    chosen = {getattr(item, "pk", item) for item in data["range_items"]}
    if chosen - allowed.keys():
        raise ValidationError("Choose range items from this criterion's range only.")
    unknown_methods = set(data["methods"]) - set(Judgement.Method.values)
    if unknown_methods:
        raise ValidationError(f"Unknown assessment method: {', '.join(sorted(unknown_methods))}.")
    if data["verdict"] == Judgement.Verdict.SATISFACTORY:
        problems = coverage_problems(statements, chosen)
        if not data["methods"]:
            problems.append("Record the assessment methods used.")
        unconfirmed = [rule for rule in RULES_OF_EVIDENCE if not data[rule]]
        if unconfirmed:
            problems.append(
                "Evidence must be valid, sufficient, authentic and current; not confirmed: "
                + ", ".join(unconfirmed)
                + "."
            )
        if problems:
            raise ValidationError(problems)
    if data["verdict"] == Judgement.Verdict.NOT_YET and not data["comment"].strip():
        raise ValidationError("Say in the comment what the candidate still needs to show.")

    was_covered = {pk for pk, item in allowed.items() if item.covered}
    before = judgement_state(current, was_covered)
    before_verdict = current.verdict
    for field in ["verdict", "methods", "comment", *RULES_OF_EVIDENCE]:
        setattr(current, field, data[field])
    current.carried_forward = False
    current.updated_by = by
    current.updated_at = timezone.now()
    # The row is locked, so the version read above is still the stored one.
    current.version += 1
    current.save(
        update_fields=[
            "verdict",
            "methods",
            "comment",
            *RULES_OF_EVIDENCE,
            "carried_forward",
            "updated_by",
            "updated_at",
            "version",
        ]
    )
    through = Judgement.range_items.through
    if was_covered - chosen:
        through.objects.filter(judgement=current, rangeitem__in=was_covered - chosen).delete()
    if chosen - was_covered:
        through.objects.bulk_create(
            through(judgement=current, rangeitem_id=pk) for pk in sorted(chosen - was_covered)
        )
    for item in allowed.values():
        item.covered = item.pk in chosen
    after = judgement_state(current, chosen)
    audit.append(
        assessment,
        head=(current.audit_sequence, current.audit_hash),
        judgement=current,
        action="judgement changed",
        actor=by,
        before=before,
        after=after,
    )
    current.range = statements
    judged = current.judged_count + bool(current.verdict) - bool(before_verdict)
    satisfactory = (
        current.satisfactory_count
        + (current.verdict == Judgement.Verdict.SATISFACTORY)
        - (before_verdict == Judgement.Verdict.SATISFACTORY)
    )
    current.progress = Progress(judged=judged, total=current.total_count, satisfactory=satisfactory)
    return current


@transaction.atomic
def apply_to_unjudged(*, assessment, by, methods, rules):
    """Give every unjudged criterion these methods and rules of evidence, leaving the verdict.

    Each criterion is saved and audited on its own through ``record_judgement``,
    under the same rules; all of them or none. Returns how many were changed.
    """
    unknown = set(rules) - set(RULES_OF_EVIDENCE)
    if unknown:
        raise ValidationError(f"Unknown rule of evidence: {', '.join(sorted(unknown))}.")
    if not methods and not rules:
        raise ValidationError("Choose the methods or rules of evidence to apply.")
    unjudged = list(
        assessment.judgements.filter(verdict="").prefetch_related("range_items").order_by("pk")
    )
    for judgement in unjudged:
        record_judgement(
            judgement=judgement,
            by=by,
            expected_version=judgement.version,
            data={
                "verdict": "",
                "methods": list(methods),
                "range_items": list(judgement.range_items.all()),
                "comment": judgement.comment,
                **{rule: rule in rules for rule in RULES_OF_EVIDENCE},
            },
        )
    return len(unjudged)


# --- sign-off and amendments -----------------------------------------------------


def proposed_result(assessment):
    """Achieved only when every criterion is satisfactory; None while any is unjudged."""
    return progress(assessment).proposed_result


@transaction.atomic
def sign_off(*, assessment, by, feedback, declaration_accepted):
    """Sign off the result; a "not yet" result opens the next attempt if any remain."""
    assessment = _locked(assessment)
    if not can_judge(by, assessment):
        raise PermissionDenied
    existing = SignOff.objects.filter(assessment=assessment).select_related("signed_by").first()
    if existing:
        raise ValidationError(
            f"Already signed off by {existing.signed_by} at "
            f"{timezone.localtime(existing.signed_at):%H:%M on %d %b %Y}."
        )
    if assessment.status != Assessment.Status.SUBMITTED:
        raise ValidationError("Only a submitted attempt can be signed off.")
    if not declaration_accepted:
        raise ValidationError("Confirm the assessor declaration to sign off.")
    result = proposed_result(assessment)
    if result is None:
        raise ValidationError("Judge every criterion before signing off.")
    if result == Assessment.Result.NOT_ACHIEVED and not feedback.strip():
        raise ValidationError("Give the candidate feedback: what they still need to show, and how.")
    now = timezone.now()
    try:
        with transaction.atomic():
            signed = SignOff.objects.create(
                assessment=assessment,
                result=result,
                feedback=feedback,
                declaration=ASSESSOR_DECLARATION,
                signed_by=by,
                signed_at=now,
            )
    except IntegrityError:
        raise ValidationError("This attempt has just been signed off by someone else.") from None
    assessment.status = Assessment.Status.SIGNED_OFF
    assessment.result = result
    assessment.save(update_fields=["status", "result"])
    # The signed record itself goes into the chain, so verify_audit can compare it.
    audit.append(assessment, action="signed off", actor=by, after=audit.sign_off_content(signed))
    audit_log.info("signed off: assessment=%s result=%s by=%s", assessment.pk, result, by.pk)
    next_attempt = None
    if (
        result == Assessment.Result.NOT_ACHIEVED
        and assessment.attempt < settings.ASSESSMENT_MAX_ATTEMPTS
    ):
        next_attempt = open_attempt(
            assessment.enrolment, attempt=assessment.attempt + 1, previous=assessment
        )
    # Sent last, so listeners see the next attempt already open.
    signals.result_signed_off.send(sender=Assessment, assessment=assessment, sign_off=signed)
    return assessment, next_attempt


def can_amend(user, assessment):
    return user.is_administrator or user.pk == assessment.enrolment.assessor_id


@dataclass
class AmendmentOutcome:
    """What an amendment did: the amendment, and the attempts it closed or opened."""

    amendment: Amendment
    closed: list
    opened: Assessment | None
    # For an amendment to not achieved: False when no attempt remains to open.
    attempts_remain: bool

    @property
    def message(self):
        """The consequences in words, for the person who amended."""
        parts = ["The amendment is recorded; the signed record is kept."]
        if self.closed:
            numbers = " and ".join(str(a.attempt) for a in self.closed)
            parts.append(f"Attempt {numbers} is closed: it is no longer needed.")
        if self.opened:
            parts.append(f"Attempt {self.opened.attempt} is open for resubmission.")
        elif not self.attempts_remain:
            parts.append(
                f"No further attempt was opened: all {settings.ASSESSMENT_MAX_ATTEMPTS} "
                "attempts have been used."
            )
        return " ".join(parts)


@transaction.atomic
def amend_result(*, assessment, by, new_result, reason):
    """Correct a signed-off result. The signed record stays; the amendment is appended.

    The enrolment's attempts follow the corrected result: amending to achieved
    closes any later attempt still open or awaiting judgement; amending to not
    achieved opens the next attempt (satisfactory judgements carried forward,
    as for a resubmission) while attempts remain. Each consequence is an entry
    in the history of the attempt concerned. Returns an ``AmendmentOutcome``.
    """
    assessment = _locked(assessment)
    if not can_amend(by, assessment):
        raise PermissionDenied
    if assessment.status != Assessment.Status.SIGNED_OFF:
        raise ValidationError("Only a signed-off result can be amended.")
    if new_result not in Assessment.Result.values:
        raise ValidationError("Choose a result.")
    if new_result == assessment.result:
        raise ValidationError("The new result is the same as the current one.")
    if not reason.strip():
        raise ValidationError("Give the reason for the amendment.")
    later = list(
        Assessment.objects.select_for_update()
        .filter(enrolment=assessment.enrolment_id, attempt__gt=assessment.attempt)
        .order_by("attempt")
    )
    signed_later = [a for a in later if a.status == Assessment.Status.SIGNED_OFF]
    if signed_later:
        raise ValidationError(
            f"Attempt {signed_later[-1].attempt} has been signed off since; "
            "its result is the current one, so amend that attempt instead."
        )
    unfinished = [a for a in later if a.status not in Assessment.FINISHED]
    previous_result = assessment.result
    amendment = Amendment.objects.create(
        assessment=assessment,
        previous_result=previous_result,
        new_result=new_result,
        reason=reason,
        amended_by=by,
    )
    Assessment.objects.filter(pk=assessment.pk).update(result=new_result)
    assessment.result = new_result
    because = {"attempt": assessment.attempt, "amendment": amendment.pk, "result": new_result}

    closed, opened, attempts_remain = [], None, True
    if new_result == Assessment.Result.ACHIEVED:
        for attempt in unfinished:
            audit.append(
                attempt,
                action="attempt closed",
                actor=by,
                before={"status": attempt.status},
                after={"status": Assessment.Status.CLOSED, "because": because},
            )
            attempt.status = Assessment.Status.CLOSED
            attempt.save(update_fields=["status"])
            closed.append(attempt)
    elif not unfinished:
        number = (later[-1].attempt if later else assessment.attempt) + 1
        attempts_remain = number <= settings.ASSESSMENT_MAX_ATTEMPTS
        if attempts_remain:
            opened = open_attempt(assessment.enrolment, attempt=number, previous=assessment)
            audit.append(
                opened,
                action="attempt opened",
                actor=by,
                after={"status": opened.status, "because": because},
            )
    audit.append(
        assessment,
        action="result amended",
        actor=by,
        before={"result": previous_result},
        after={
            **audit.amendment_content(amendment),
            "closed_attempts": [a.attempt for a in closed],
            "opened_attempt": opened.attempt if opened else None,
            "attempts_remain": attempts_remain,
        },
    )
    audit_log.info(
        "result amended: assessment=%s %s->%s closed=%s opened=%s by=%s",
        assessment.pk,
        previous_result,
        new_result,
        [a.pk for a in closed],
        opened.pk if opened else None,
        by.pk,
    )
    signals.result_amended.send(sender=Assessment, amendment=amendment)
    return AmendmentOutcome(amendment, closed, opened, attempts_remain)
