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
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from standards.models import PerformanceCriterion, RangeItem

from .models import Amendment, Assessment, AuditEntry, Enrolment, Judgement, SignOff

audit_log = logging.getLogger("assessment_portal.audit")


def _check_roles(candidate, assessor):
    if not candidate.is_candidate:
        raise ValidationError(f"{candidate} is not a candidate.")
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

    Returns (enrolled, skipped) lists of candidates.
    """
    candidates = list(cohort.candidates.filter(is_active=True))
    if not candidates:
        raise ValidationError(f"Cohort {cohort} has no active candidates to enrol.")
    already = set(
        Enrolment.objects.filter(unit=unit, candidate__in=candidates).values_list(
            "candidate_id", flat=True
        )
    )
    enrolled, skipped = [], []
    for candidate in candidates:
        if candidate.pk in already:
            skipped.append(candidate)
            continue
        enrol(
            candidate=candidate,
            unit=unit,
            assessor=assessor,
            by=by,
            cohort=cohort,
            due_date=due_date,
        )
        enrolled.append(candidate)
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


def open_attempt(enrolment, *, attempt, previous=None):
    """Create an attempt with a judgement row for every criterion of the unit.

    A resubmission carries forward what was satisfactory in the previous
    attempt; only the rest is reassessed.
    """
    assessment = Assessment.objects.create(enrolment=enrolment, attempt=attempt)
    carried = {}
    if previous is not None:
        carried = {
            j.criterion_id: j
            for j in previous.judgements.filter(
                verdict=Judgement.Verdict.SATISFACTORY
            ).prefetch_related("range_items")
        }
    criteria = PerformanceCriterion.objects.filter(outcome__unit=enrolment.unit_id)
    for criterion in criteria:
        earlier = carried.get(criterion.pk)
        judgement = Judgement.objects.create(
            assessment=assessment,
            criterion=criterion,
            **(
                {
                    "verdict": earlier.verdict,
                    "methods": earlier.methods,
                    "valid": earlier.valid,
                    "sufficient": earlier.sufficient,
                    "authentic": earlier.authentic,
                    "current": earlier.current,
                    "comment": earlier.comment,
                    "carried_forward": True,
                    "updated_by": earlier.updated_by,
                    "updated_at": earlier.updated_at,
                }
                if earlier
                else {}
            ),
        )
        if earlier:
            judgement.range_items.set(earlier.range_items.all())
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
    """A judgement as plain data, for the audit trail."""
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

    One query: the attempt row is locked too, so a save and a sign-off queue up.
    """
    siblings = Judgement.objects.filter(assessment=OuterRef("assessment"))
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
    statements = {}
    for item in items.order_by("range_statement__position", "position"):
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
    AuditEntry.objects.create(
        assessment=assessment,
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
