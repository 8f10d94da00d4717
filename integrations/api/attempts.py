from datetime import date, datetime

from django.db.models import Prefetch
from django.utils import timezone
from ninja import Router, Schema
from ninja.pagination import paginate

from assessment_portal.access import get_visible_or_404
from assessments.models import Amendment, Assessment, Judgement

from .auth import acting_user
from .pagination import Paged
from .schemas import Id, IdPath, responses

router = Router(tags=["attempts"])


class AmendmentOut(Schema):
    previous_result: str
    new_result: str
    reason: str
    amended_by_id: int
    amended_at: datetime


class AttemptOut(Schema):
    id: int
    enrolment_id: int
    candidate_id: int
    unit_code: str
    attempt: int
    status: str
    submitted_at: datetime | None
    result: str
    result_label: str
    signed_off_at: datetime | None
    signed_off_by_id: int | None
    feedback: str
    amended: bool
    amendments: list[AmendmentOut]
    achieved_on: date | None

    @staticmethod
    def resolve_candidate_id(obj):
        return obj.enrolment.candidate_id

    @staticmethod
    def resolve_unit_code(obj):
        return obj.enrolment.unit.code

    @staticmethod
    def resolve_signed_off_at(obj):
        sign_off = getattr(obj, "sign_off", None)
        return sign_off.signed_at if sign_off else None

    @staticmethod
    def resolve_signed_off_by_id(obj):
        sign_off = getattr(obj, "sign_off", None)
        return sign_off.signed_by_id if sign_off else None

    @staticmethod
    def resolve_feedback(obj):
        sign_off = getattr(obj, "sign_off", None)
        return sign_off.feedback if sign_off else ""

    @staticmethod
    def resolve_amendments(obj):
        return list(obj.amendments.all())

    @staticmethod
    def resolve_amended(obj):
        return bool(obj.amendments.all())

    @staticmethod
    def resolve_achieved_on(obj):
        """The day the achieved result was decided: its sign-off, or the amendment making it so."""
        if obj.result != Assessment.Result.ACHIEVED:
            return None
        for amendment in reversed(obj.amendments.all()):
            if amendment.new_result == Assessment.Result.ACHIEVED:
                return timezone.localdate(amendment.amended_at)
        return timezone.localdate(obj.sign_off.signed_at)


class JudgementOut(Schema):
    id: int
    criterion_id: int
    criterion_number: str
    verdict: str
    methods: list[str]
    range_item_ids: list[int]
    valid: bool
    sufficient: bool
    authentic: bool
    current: bool
    comment: str
    carried_forward: bool
    updated_at: datetime | None

    @staticmethod
    def resolve_criterion_number(obj):
        return obj.criterion.number

    @staticmethod
    def resolve_range_item_ids(obj):
        return sorted(item.pk for item in obj.range_items.all())


def attempts(request):
    return (
        Assessment.objects.visible_to(acting_user(request))
        .select_related("enrolment__unit", "sign_off")
        .prefetch_related(
            Prefetch("amendments", queryset=Amendment.objects.order_by("amended_at", "pk"))
        )
        .order_by("pk")
    )


@router.get("", response=responses(200, list[AttemptOut]), summary="List assessment attempts")
@paginate(Paged)
def list_attempts(
    request,
    enrolment_id: Id | None = None,
    status: Assessment.Status | None = None,
):
    found = attempts(request)
    if enrolment_id:
        found = found.filter(enrolment_id=enrolment_id)
    if status:
        found = found.filter(status=status)
    return found


@router.get("/{attempt_id}", response=responses(200, AttemptOut), summary="An attempt")
def get_attempt(request, attempt_id: int = IdPath()):
    return get_visible_or_404(attempts(request), acting_user(request), pk=attempt_id)


@router.get(
    "/{attempt_id}/judgements",
    response=responses(200, list[JudgementOut]),
    summary="The assessor's judgement of each criterion in an attempt",
)
def list_judgements(request, attempt_id: int = IdPath()):
    attempt = get_visible_or_404(Assessment.objects.all(), acting_user(request), pk=attempt_id)
    return list(
        Judgement.objects.filter(assessment=attempt)
        .select_related("criterion")
        .prefetch_related("range_items")
        .order_by("criterion__sort_key", "pk")
    )
