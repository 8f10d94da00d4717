"""Domain rules for enrolments and assessments.

Views and management commands call these; each multi-step write is atomic
and raises ``ValidationError`` with a message for the user when a rule is
broken, leaving the database unchanged.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from standards.models import PerformanceCriterion

from .models import Amendment, Assessment, AuditEntry, Enrolment, Judgement, SignOff

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


def enrol(*, candidate, unit, assessor, by, cohort=None, due_date=None):
    """Enrol one candidate in a unit with an assessor assigned."""
    _check_roles(candidate, assessor)
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
    already = set(
        Enrolment.objects.filter(unit=unit, candidate__in=candidates).values_list(
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
                Assessment(enrolment=enrolment, attempt=1) for enrolment in enrolments
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


def reassign_assessor(*, enrolment, assessor, by):
    _check_roles(enrolment.candidate, assessor)
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
    AuditEntry.objects.create(
        assessment=assessment,
        action="submitted",
        actor=by,
        after={
            "evidence": sorted(items.values_list("pk", flat=True)),
            "declared_at": now.isoformat(),
        },
    )
    audit_log.info("submitted: assessment=%s by=%s", assessment.pk, by.pk)
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


def coverage_problems(criterion, covered_item_ids):
    """Why a criterion cannot yet be satisfactory under its range's coverage rule."""
    problems = []
    for statement in criterion.range_statements.all():
        items = list(statement.items.all())
        required = statement.required_count
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


RULES_OF_EVIDENCE = ["valid", "sufficient", "authentic", "current"]


@transaction.atomic
def record_judgement(*, judgement, by, expected_version, data):
    """Save the assessor's judgement of one criterion.

    ``data`` holds verdict, methods, range_items (RangeItem objects), the four
    rules of evidence and comment. The save is refused, changing nothing, if
    the judgement changed since ``expected_version`` was read.
    """
    assessment = _locked(judgement.assessment)
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
    current = (
        # Lock only the judgement row: PostgreSQL refuses FOR UPDATE across the
        # outer join to a nullable updated_by.
        Judgement.objects.select_for_update(of=("self",))
        .select_related("updated_by", "criterion")
        .prefetch_related("range_items", "criterion__range_statements__items")
        .get(pk=judgement.pk)
    )
    if current.version != expected_version:
        raise StaleJudgement(
            f"{current.criterion.number} was changed by {current.updated_by} at "
            f"{timezone.localtime(current.updated_at):%H:%M:%S on %d %b %Y} after you opened it. "
            "Your changes were not saved; reload to see theirs, then judge again."
        )

    allowed_items = {
        item.pk: item
        for statement in current.criterion.range_statements.all()
        for item in statement.items.all()
    }
    chosen = {item.pk for item in data["range_items"]}
    if chosen - allowed_items.keys():
        raise ValidationError("Choose range items from this criterion's range only.")
    unknown_methods = set(data["methods"]) - set(Judgement.Method.values)
    if unknown_methods:
        raise ValidationError(f"Unknown assessment method: {', '.join(sorted(unknown_methods))}.")
    if data["verdict"] == Judgement.Verdict.SATISFACTORY:
        problems = coverage_problems(current.criterion, chosen)
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

    before = judgement_state(current)
    for field in ["verdict", "methods", "comment", *RULES_OF_EVIDENCE]:
        setattr(current, field, data[field])
    current.carried_forward = False
    current.updated_by = by
    current.updated_at = timezone.now()
    current.version = F("version") + 1
    current.save()
    current.range_items.set(data["range_items"])
    current.refresh_from_db()
    after = judgement_state(current)
    AuditEntry.objects.create(
        assessment=assessment,
        judgement=current,
        action="judgement changed",
        actor=by,
        before=before,
        after=after,
    )
    return current


# --- sign-off and amendments -----------------------------------------------------


def proposed_result(assessment):
    """Achieved only when every criterion is satisfactory; None while any is unjudged."""
    verdicts = [j.verdict for j in assessment.judgements.all()]
    if not verdicts or "" in verdicts:
        return None
    if all(v == Judgement.Verdict.SATISFACTORY for v in verdicts):
        return Assessment.Result.ACHIEVED
    return Assessment.Result.NOT_ACHIEVED


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
            SignOff.objects.create(
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
    AuditEntry.objects.create(
        assessment=assessment,
        action="signed off",
        actor=by,
        after={"result": result, "feedback": feedback, "signed_at": now.isoformat()},
    )
    audit_log.info("signed off: assessment=%s result=%s by=%s", assessment.pk, result, by.pk)
    next_attempt = None
    if (
        result == Assessment.Result.NOT_ACHIEVED
        and assessment.attempt < settings.ASSESSMENT_MAX_ATTEMPTS
    ):
        next_attempt = open_attempt(
            assessment.enrolment, attempt=assessment.attempt + 1, previous=assessment
        )
    return assessment, next_attempt


def can_amend(user, assessment):
    return user.is_administrator or user.pk == assessment.enrolment.assessor_id


@transaction.atomic
def amend_result(*, assessment, by, new_result, reason):
    """Correct a signed-off result. The signed record stays; the amendment is appended."""
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
    amendment = Amendment.objects.create(
        assessment=assessment,
        previous_result=assessment.result,
        new_result=new_result,
        reason=reason,
        amended_by=by,
    )
    AuditEntry.objects.create(
        assessment=assessment,
        action="result amended",
        actor=by,
        before={"result": assessment.result},
        after={"result": new_result, "reason": reason},
    )
    Assessment.objects.filter(pk=assessment.pk).update(result=new_result)
    audit_log.info(
        "result amended: assessment=%s %s->%s by=%s",
        assessment.pk,
        amendment.previous_result,
        new_result,
        by.pk,
    )
    return amendment
