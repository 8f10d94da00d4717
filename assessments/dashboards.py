"""What each role's home page shows. Each function runs a fixed number of queries."""

from django.db.models import Count, OuterRef, Prefetch
from django.utils import timezone

from assessment_portal.queries import NAME_FIELDS, UNIT_CODE_FIELDS, built_once, count_of, fields_of
from standards.models import PerformanceCriterion, Unit

from .models import (
    Amendment,
    Assessment,
    Cohort,
    Enrolment,
    ModerationReview,
    ModerationRound,
    ModerationSample,
    SignOff,
)

COHORTS_SHOWN = OVERDUE_SHOWN = 10


def _latest_attempts():
    """Attempts newest first, without those an amendment closed, noting amended results."""
    return Prefetch(
        "assessments",
        queryset=Assessment.objects.exclude(status=Assessment.Status.CLOSED)
        .annotate(amendment_count=Count("amendments"))
        .order_by("-attempt"),
        to_attr="attempts",
    )


def next_step(enrolment):
    """The candidate's next step on an enrolment, in words."""
    latest = enrolment.attempts[0] if enrolment.attempts else None
    missing = enrolment.criteria_total - enrolment.criteria_covered
    if latest is None:
        return "Waiting for your first attempt to open."
    if latest.status == Assessment.Status.SUBMITTED:
        return f"Attempt {latest.attempt} is with your assessor."
    if latest.status == Assessment.Status.SIGNED_OFF:
        amended = " (amended)" if latest.amendment_count else ""
        if latest.result == Assessment.Result.ACHIEVED:
            return f"{enrolment.unit.achieved_label}{amended}."
        if amended:
            return (
                f"{enrolment.unit.not_achieved_label}{amended}; no attempts remain: "
                "talk to your assessor or administrator."
            )
        return "No attempts remain; talk to your assessor or administrator."
    if latest.attempt > 1:
        return (
            "Resubmission: add evidence for what was not yet satisfactory, "
            f"then submit attempt {latest.attempt}."
        )
    if missing:
        return f"Map evidence to {missing} more criteria, then submit."
    return "Every criterion has evidence: review the range items still to cover, then submit."


@built_once
def _criteria_counts():
    return {
        "criteria_total": count_of(
            PerformanceCriterion.objects.filter(outcome__unit=OuterRef("unit"))
        ),
        # Starts from this candidate's evidence, not from every mapping of the unit.
        "criteria_covered": count_of(
            PerformanceCriterion.objects.filter(
                outcome__unit=OuterRef("unit"),
                evidence_mappings__evidence__candidate=OuterRef("candidate"),
            ),
            distinct=True,
        ),
    }


def candidate_enrolments(user):
    enrolments = (
        Enrolment.objects.filter(candidate=user)
        .select_related("unit", "assessor")
        .prefetch_related(_latest_attempts())
        .annotate(**_criteria_counts())
        .order_by("unit__code")
    )
    for enrolment in enrolments:
        enrolment.next_step = next_step(enrolment)
    return enrolments


def units_with_waiting(waiting):
    """Every unit, each with how many attempts of ``waiting`` await judgement in it (``total``)."""
    # Grouping the attempts by unit reads each once; counting them per unit (a join from
    # units, or a subquery each) reads every submitted attempt again for each unit.
    # By the attempt's own copy of its unit, from the partial index awaiting_judgement_by_unit
    # alone: through the enrolment, every enrolment was read (3–5 → 0.4 ms at 10k).
    totals = dict(waiting.order_by().values_list("unit").annotate(n=Count("*")))
    units = list(Unit.objects.only("framework", "code", "title"))
    for unit in units:
        unit.total = totals.get(unit.pk, 0)
    return units


def take_units(enrolments, units):
    """Give each enrolment its unit from ``units``, already read, rather than joining the
    units table to rows that print a unit's code: PostgreSQL's planning time grows steeply
    with each table joined (a list of six tables: ~2 ms to plan, of four: ~0.6 ms)."""
    by_pk = {unit.pk: unit for unit in units}
    for enrolment in enrolments:
        enrolment.unit = by_pk[enrolment.unit_id]


@built_once
def _amendment_count():
    return {
        "amendment_count": count_of(Amendment.objects.filter(assessment=OuterRef("assessment")))
    }


def assessor_summary(user):
    waiting = Assessment.objects.visible_to(user).filter(status=Assessment.Status.SUBMITTED)
    units = units_with_waiting(waiting)
    decisions = SignOff.objects.all()
    people = ["assessment__enrolment__candidate"]
    if user.is_administrator:
        people.append("signed_by")  # an assessor's own decisions are all signed by them
    else:
        decisions = decisions.filter(signed_by=user)
    recent = list(
        decisions.select_related(*people)
        .only(
            "result",
            "signed_at",
            "assessment__result",
            "assessment__enrolment__unit",
            *(name for person in people for name in fields_of(person, NAME_FIELDS)),
        )
        # A subquery, not a join: counting through a join groups every sign-off before
        # the ten newest are taken (100 ms at 10,000 candidates).
        .annotate(**_amendment_count())
        .order_by("-signed_at")[:10]
    )
    take_units((decision.assessment.enrolment for decision in recent), units)
    by_unit = [unit for unit in units if unit.total]
    return {
        "waiting_by_unit": by_unit,
        "waiting_total": sum(unit.total for unit in by_unit),
        "recent": recent,
    }


def administrator_summary():
    today = timezone.localdate()
    # The newest; the cohort list has them all, with the same counts.
    cohorts = Cohort.objects.with_progress().order_by("-created_at", "-pk")[:COHORTS_SHOWN]
    # The most overdue; the enrolment list has them all (?overdue=1).
    overdue = (
        Enrolment.objects.overdue(today)
        # Joined for their names and codes only: a unit's pages of text stay out of the rows.
        .select_related("candidate", "unit")
        .only(
            "due_date", *fields_of("candidate", NAME_FIELDS), *fields_of("unit", UNIT_CODE_FIELDS)
        )[:OVERDUE_SHOWN]
    )
    rounds = (
        ModerationRound.objects.select_related("unit")
        .only("name", "sampled_at", *fields_of("unit", UNIT_CODE_FIELDS))
        .annotate(**round_counts())
        .order_by("-created_at", "-pk")[:5]
    )
    return {
        "cohorts": cohorts,
        "overdue": overdue,
        "today": today,
        "rounds": rounds,
    }


@built_once
def round_counts():
    """Sample and reviewed counts of each moderation round, as annotations (its population
    size comes with the round: ``ModerationRound.population_size``)."""
    return {
        "sample_size": count_of(ModerationSample.objects.filter(round=OuterRef("pk"))),
        "reviewed": count_of(ModerationReview.objects.filter(sample__round=OuterRef("pk"))),
    }
