"""What each role's home page shows. Each function runs a fixed number of queries."""

from django.db.models import Count, F, Prefetch, Q
from django.utils import timezone

from standards.models import Unit

from .models import Assessment, Cohort, Enrolment, ModerationRound, SignOff

CRITERIA = "unit__outcomes__criteria"


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


def candidate_enrolments(user):
    enrolments = (
        Enrolment.objects.filter(candidate=user)
        .select_related("unit", "assessor")
        .prefetch_related(_latest_attempts())
        .annotate(
            criteria_total=Count(CRITERIA, distinct=True),
            criteria_covered=Count(
                CRITERIA,
                filter=Q(**{f"{CRITERIA}__evidence_mappings__evidence__candidate": F("candidate")}),
                distinct=True,
            ),
        )
        .order_by("unit__code")
    )
    for enrolment in enrolments:
        enrolment.next_step = next_step(enrolment)
    return enrolments


def waiting_by_unit(waiting):
    """Counts of attempts awaiting judgement, per unit, for the queue and dashboards."""
    return Unit.objects.filter(enrolments__assessments__in=waiting).annotate(
        total=Count("enrolments__assessments")
    )


def assessor_summary(user):
    waiting = Assessment.objects.visible_to(user).filter(status=Assessment.Status.SUBMITTED)
    decisions = (
        SignOff.objects.all() if user.is_administrator else SignOff.objects.filter(signed_by=user)
    )
    recent = (
        decisions.select_related(
            "signed_by", "assessment__enrolment__candidate", "assessment__enrolment__unit"
        )
        .annotate(amendment_count=Count("assessment__amendments"))
        .order_by("-signed_at")[:10]
    )
    return {
        "waiting_by_unit": waiting_by_unit(waiting),
        "waiting_total": waiting.count(),
        "recent": recent,
    }


def administrator_summary():
    today = timezone.localdate()
    cohorts = Cohort.objects.annotate(
        enrolled=Count("enrolments", distinct=True),
        submitted=Count(
            "enrolments",
            filter=Q(enrolments__assessments__status=Assessment.Status.SUBMITTED),
            distinct=True,
        ),
        achieved=Count(
            "enrolments",
            filter=Q(enrolments__assessments__result=Assessment.Result.ACHIEVED),
            distinct=True,
        ),
    )
    overdue = (
        Enrolment.objects.filter(due_date__lt=today, status=Enrolment.Status.ACTIVE)
        .exclude(assessments__result=Assessment.Result.ACHIEVED)
        .select_related("candidate", "unit", "assessor")
        .order_by("due_date")[:50]
    )
    rounds = (
        ModerationRound.objects.select_related("unit")
        .annotate(
            sampled=Count("samples", distinct=True),
            reviewed=Count("samples__review", distinct=True),
        )
        .order_by("-created_at")[:5]
    )
    return {"cohorts": cohorts, "overdue": overdue, "today": today, "rounds": rounds}
