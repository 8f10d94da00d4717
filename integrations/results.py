"""An enrolment's result as student management systems report it.

One function decides what an enrolment's result is — competent, not yet
competent, continuing, withdrawn, RPL granted or not, credit transfer — and
the dates that go with it. The results feed, the API and the exports all use
it, so they never disagree.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Prefetch
from django.utils import timezone

from assessments.models import Amendment, Assessment, Enrolment

Status = Enrolment.Status


class Kind:
    COMPETENT = "competent"
    NOT_YET_COMPETENT = "not_yet_competent"
    CONTINUING = "continuing"
    WITHDRAWN = "withdrawn"
    RPL_GRANTED = "rpl_granted"
    RPL_NOT_GRANTED = "rpl_not_granted"
    CREDIT_TRANSFER = "credit_transfer"

    ALL = [
        COMPETENT,
        NOT_YET_COMPETENT,
        CONTINUING,
        WITHDRAWN,
        RPL_GRANTED,
        RPL_NOT_GRANTED,
        CREDIT_TRANSFER,
    ]


# AVETMISS "Outcome identifier – national" (NAT00120).
AVETMISS_OUTCOME = {
    Kind.COMPETENT: "20",
    Kind.NOT_YET_COMPETENT: "30",
    Kind.WITHDRAWN: "40",
    Kind.RPL_GRANTED: "51",
    Kind.RPL_NOT_GRANTED: "52",
    Kind.CREDIT_TRANSFER: "60",
    Kind.CONTINUING: "70",
}
AVETMISS_LABEL = {
    Kind.COMPETENT: "Competency achieved/pass",
    Kind.NOT_YET_COMPETENT: "Competency not achieved/fail",
    Kind.WITHDRAWN: "Withdrawn/discontinued",
    Kind.RPL_GRANTED: "RPL granted",
    Kind.RPL_NOT_GRANTED: "RPL not granted",
    Kind.CREDIT_TRANSFER: "Credit transfer/national recognition",
    Kind.CONTINUING: "Continuing enrolment",
}
# NZQA reports a unit standard as achieved or not; recognition counts as achieved.
NZQA_RESULT = {
    Kind.COMPETENT: "Achieved",
    Kind.RPL_GRANTED: "Achieved",
    Kind.CREDIT_TRANSFER: "Achieved",
    Kind.NOT_YET_COMPETENT: "Not achieved",
    Kind.RPL_NOT_GRANTED: "Not achieved",
}
BY_STATUS = {
    Status.WITHDRAWN: Kind.WITHDRAWN,
    Status.RPL_GRANTED: Kind.RPL_GRANTED,
    Status.RPL_NOT_GRANTED: Kind.RPL_NOT_GRANTED,
    Status.CREDIT_TRANSFER: Kind.CREDIT_TRANSFER,
}


@dataclass
class ReportedResult:
    enrolment: Enrolment
    kind: str
    # The signed-off attempt the result comes from (None for RPL, transfer, continuing…).
    attempt: Assessment | None
    # The day of the decision behind the result: sign-off, latest amendment or status decision.
    decided_on: date | None
    signed_off_at: datetime | None
    amended_at: datetime | None

    @property
    def amended(self):
        return self.amended_at is not None

    @property
    def avetmiss_outcome(self):
        return AVETMISS_OUTCOME[self.kind]

    @property
    def avetmiss_label(self):
        return AVETMISS_LABEL[self.kind]

    @property
    def nzqa_result(self):
        return NZQA_RESULT.get(self.kind, "")

    @property
    def achieved_on(self):
        """The date competency was achieved (the standard was met), if it was."""
        if self.kind in {Kind.COMPETENT, Kind.RPL_GRANTED, Kind.CREDIT_TRANSFER}:
            return self.decided_on
        return None


def with_result_data(enrolments):
    """Prefetch what ``reported_result`` reads, in a fixed number of queries."""
    return enrolments.select_related("candidate", "unit", "assessor", "cohort").prefetch_related(
        Prefetch(
            "assessments",
            queryset=Assessment.objects.select_related("sign_off").prefetch_related(
                Prefetch("amendments", queryset=Amendment.objects.order_by("amended_at", "pk"))
            ),
        ),
        "status_changes",
    )


def local_date(moment):
    return timezone.localdate(moment) if moment else None


def reported_result(enrolment):
    """The enrolment's result now (prefetch with ``with_result_data``)."""
    attempts = sorted(enrolment.assessments.all(), key=lambda a: a.attempt)
    if enrolment.status in BY_STATUS:
        changes = list(enrolment.status_changes.all())
        return ReportedResult(
            enrolment=enrolment,
            kind=BY_STATUS[enrolment.status],
            attempt=None,
            decided_on=changes[-1].effective_date if changes else None,
            signed_off_at=None,
            amended_at=None,
        )
    signed = [a for a in attempts if a.status == Assessment.Status.SIGNED_OFF]
    if not signed:
        return ReportedResult(enrolment, Kind.CONTINUING, None, None, None, None)
    attempt = signed[-1]
    sign_off = getattr(attempt, "sign_off", None)
    signed_off_at = sign_off.signed_at if sign_off else None
    amendments = list(attempt.amendments.all())
    amended_at = amendments[-1].amended_at if amendments else None
    if attempt.result == Assessment.Result.ACHIEVED:
        kind = Kind.COMPETENT
    elif any(a.attempt > attempt.attempt for a in attempts):
        # A "not yet" with a further attempt open is still in progress.
        kind = Kind.CONTINUING
        amended_at = signed_off_at = None
    else:
        kind = Kind.NOT_YET_COMPETENT
    return ReportedResult(
        enrolment=enrolment,
        kind=kind,
        attempt=attempt,
        decided_on=local_date(amended_at or signed_off_at),
        signed_off_at=signed_off_at,
        amended_at=amended_at,
    )
