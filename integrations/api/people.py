from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.pagination import paginate

from assessments.models import Enrolment

from .auth import acting_user
from .pagination import Paged
from .schemas import IdPath, responses

router = Router(tags=["people"])
User = get_user_model()
ROLES = [User.Role.CANDIDATE, User.Role.ASSESSOR]


class PersonOut(Schema):
    id: int
    username: str
    given_name: str
    family_name: str
    email: str
    role: str
    nsn: str
    usi: str
    is_active: bool

    @staticmethod
    def resolve_given_name(obj):
        return obj.first_name

    @staticmethod
    def resolve_family_name(obj):
        return obj.last_name

    @staticmethod
    def resolve_nsn(obj):
        return obj.national_student_number

    @staticmethod
    def resolve_usi(obj):
        return obj.unique_student_identifier


def people(request):
    """Candidates and assessors an SMS enrols and assigns; an assessor's token sees
    only the candidates they assess, and themselves (as on the pages)."""
    user = acting_user(request)
    found = User.objects.filter(role__in=ROLES)
    if not user.is_administrator:
        assessed = Enrolment.objects.visible_to(user).values("candidate_id")
        found = found.filter(Q(pk__in=assessed) | Q(pk=user.pk))
    return found.order_by("pk")


@router.get("", response=responses(200, list[PersonOut]), summary="List candidates and assessors")
@paginate(Paged)
def list_people(
    request,
    role: User.Role | None = None,
    nsn: str | None = None,
    usi: str | None = None,
):
    found = people(request)
    if role is not None:
        found = found.filter(role=role)
    if nsn:
        found = found.filter(national_student_number=nsn.replace("\x00", ""))
    if usi:
        found = found.filter(unique_student_identifier=usi.replace("\x00", "").upper())
    return found


@router.get("/{person_id}", response=responses(200, PersonOut), summary="A candidate or assessor")
def get_person(request, person_id: int = IdPath()):
    return get_object_or_404(people(request), pk=person_id)
