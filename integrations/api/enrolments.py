from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.pagination import paginate

from assessment_portal.access import get_visible_or_404
from assessments import enrolment_status, services
from assessments.models import Cohort, Enrolment
from standards.models import Unit

from ..results import reported_result, with_result_data
from .auth import acting_user, require_write
from .pagination import Paged
from .schemas import Id, IdPath, RequiredText, responses

router = Router(tags=["enrolments"])
User = get_user_model()
UnitCode = RequiredText


class EnrolmentOut(Schema):
    id: int
    candidate_id: int
    unit_code: str
    unit_version: str
    assessor_id: int
    cohort_id: int | None
    status: str
    due_date: date | None
    enrolled_at: datetime
    outcome: str
    attempt_ids: list[int]

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_unit_version(obj):
        return obj.unit.version

    @staticmethod
    def resolve_outcome(obj):
        return reported_result(obj).kind

    @staticmethod
    def resolve_attempt_ids(obj):
        return sorted(attempt.pk for attempt in obj.assessments.all())


class EnrolmentIn(Schema):
    candidate_id: Id
    unit_code: UnitCode
    unit_version: UnitCode | None = None
    assessor_id: Id
    cohort_id: Id | None = None
    due_date: date | None = None


class EnrolmentPatch(Schema):
    """Only the fields sent change; send null to clear the due date or cohort."""

    assessor_id: Id | None = None
    due_date: date | None = None
    cohort_id: Id | None = None


class StatusIn(Schema):
    status: Enrolment.Status
    effective_date: date | None = None
    reason: RequiredText


class WithdrawIn(Schema):
    effective_date: date | None = None
    reason: RequiredText


def enrolments(request):
    return with_result_data(Enrolment.objects.visible_to(acting_user(request))).order_by("pk")


def get_enrolment(request, enrolment_id):
    return get_visible_or_404(
        with_result_data(Enrolment.objects.all()), acting_user(request), pk=enrolment_id
    )


def _person(pk, role, field):
    person = User.objects.filter(pk=pk, role=role).first()
    if person is None:
        raise ValidationError(f"{field}: no {role} has id {pk}.")
    return person


def _cohort(pk):
    cohort = Cohort.objects.filter(pk=pk).first()
    if cohort is None:
        raise ValidationError(f"cohort_id: no cohort has id {pk}.")
    return cohort


@router.get("", response=responses(200, list[EnrolmentOut]), summary="List enrolments")
@paginate(Paged)
def list_enrolments(
    request,
    unit_code: str | None = None,
    cohort_id: Id | None = None,
    candidate_id: Id | None = None,
    status: Enrolment.Status | None = None,
):
    found = enrolments(request)
    if unit_code:
        found = found.filter(unit__code=unit_code.replace("\x00", ""))
    if cohort_id:
        found = found.filter(cohort_id=cohort_id)
    if candidate_id:
        found = found.filter(candidate_id=candidate_id)
    if status:
        found = found.filter(status=status)
    return found


@router.get("/{enrolment_id}", response=responses(200, EnrolmentOut), summary="An enrolment")
def get_enrolment_detail(request, enrolment_id: int = IdPath()):
    return get_enrolment(request, enrolment_id)


@router.post(
    "",
    response=responses(201, EnrolmentOut),
    summary="Enrol a candidate in a unit (opens the first attempt)",
)
def create_enrolment(request, payload: EnrolmentIn):
    require_write(request)
    # New enrolments take the current release unless the caller names one.
    units = Unit.objects.filter(code=payload.unit_code)
    units = units.filter(version=payload.unit_version) if payload.unit_version else units.current()
    unit = units.first()
    if unit is None:
        raise ValidationError(f"unit_code: no unit {payload.unit_code} in the catalogue.")
    enrolment = services.enrol(
        candidate=_person(payload.candidate_id, User.Role.CANDIDATE, "candidate_id"),
        unit=unit,
        assessor=_person(payload.assessor_id, User.Role.ASSESSOR, "assessor_id"),
        cohort=_cohort(payload.cohort_id) if payload.cohort_id else None,
        due_date=payload.due_date,
        by=acting_user(request),
    )
    return Status(201, get_enrolment(request, enrolment.pk))


@router.patch(
    "/{enrolment_id}",
    response=responses(200, EnrolmentOut),
    summary="Change an enrolment's assessor, due date or cohort",
)
def update_enrolment(request, payload: EnrolmentPatch, enrolment_id: int = IdPath()):
    require_write(request)
    enrolment = get_enrolment(request, enrolment_id)
    given = payload.model_fields_set
    changes = {}
    if "assessor_id" in given and payload.assessor_id is not None:
        changes["assessor"] = _person(payload.assessor_id, User.Role.ASSESSOR, "assessor_id")
    if "due_date" in given:
        changes["due_date"] = payload.due_date or services.CLEAR
    if "cohort_id" in given:
        changes["cohort"] = _cohort(payload.cohort_id) if payload.cohort_id else services.CLEAR
    services.update_enrolment(enrolment=enrolment, by=acting_user(request), **changes)
    return get_enrolment(request, enrolment.pk)


@router.post(
    "/{enrolment_id}/withdraw",
    response=responses(200, EnrolmentOut),
    summary="Withdraw the candidate from the unit",
)
def withdraw(request, payload: WithdrawIn, enrolment_id: int = IdPath()):
    require_write(request)
    enrolment = get_enrolment(request, enrolment_id)
    enrolment_status.withdraw(
        enrolment=enrolment,
        by=acting_user(request),
        reason=payload.reason,
        effective_date=payload.effective_date,
    )
    return get_enrolment(request, enrolment.pk)


@router.post(
    "/{enrolment_id}/status",
    response=responses(200, EnrolmentOut),
    summary="Record withdrawal, RPL granted/not granted, credit transfer, or reinstate",
)
def change_status(request, payload: StatusIn, enrolment_id: int = IdPath()):
    require_write(request)
    enrolment = get_enrolment(request, enrolment_id)
    enrolment_status.change_status(
        enrolment=enrolment,
        new_status=payload.status,
        effective_date=payload.effective_date or timezone.localdate(),
        reason=payload.reason,
        by=acting_user(request),
    )
    return get_enrolment(request, enrolment.pk)
