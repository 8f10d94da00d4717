from datetime import datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.pagination import paginate

from assessments.forms import CohortForm
from assessments.models import Cohort

from .auth import acting_user, require_write
from .pagination import Paged
from .schemas import Id, IdPath, RequiredText, Text, responses

router = Router(tags=["cohorts"])


class CohortOut(Schema):
    id: int
    name: str
    description: str
    candidate_ids: list[int]
    created_at: datetime

    @staticmethod
    def resolve_candidate_ids(obj):
        return sorted(candidate.pk for candidate in obj.candidates.all())


class CohortIn(Schema):
    name: RequiredText
    description: Text = ""
    candidate_ids: list[Id] = []


class CohortPatch(Schema):
    name: RequiredText | None = None
    description: Text | None = None
    candidate_ids: list[Id] | None = None


def cohorts(request):
    """Cohorts are administrators' business (as their pages): nobody else's token sees one."""
    if not acting_user(request).is_administrator:
        return Cohort.objects.none()
    return Cohort.objects.prefetch_related("candidates").order_by("pk")


def save_cohort(cohort, data):
    """Validate with the same form as the Cohorts page, so the rules are the pages' rules."""
    form = CohortForm(data, instance=cohort)
    if not form.is_valid():
        raise ValidationError(
            [f"{field}: {error}" for field, errors in form.errors.items() for error in errors]
        )
    return form.save()


@router.get("", response=responses(200, list[CohortOut]), summary="List cohorts")
@paginate(Paged)
def list_cohorts(request):
    return cohorts(request)


@router.get("/{cohort_id}", response=responses(200, CohortOut), summary="A cohort")
def get_cohort(request, cohort_id: int = IdPath()):
    return get_object_or_404(cohorts(request), pk=cohort_id)


@router.post("", response=responses(201, CohortOut), summary="Create a cohort")
def create_cohort(request, payload: CohortIn):
    require_write(request)
    cohort = save_cohort(
        None,
        {
            "name": payload.name,
            "description": payload.description,
            "candidates": payload.candidate_ids,
        },
    )
    return Status(201, get_object_or_404(cohorts(request), pk=cohort.pk))


@router.patch("/{cohort_id}", response=responses(200, CohortOut), summary="Update a cohort")
def update_cohort(request, payload: CohortPatch, cohort_id: int = IdPath()):
    require_write(request)
    cohort = get_object_or_404(cohorts(request), pk=cohort_id)
    data = {
        "name": cohort.name,
        "description": cohort.description,
        "candidates": [candidate.pk for candidate in cohort.candidates.all()],
    }
    given = payload.dict(exclude_unset=True)
    for field, key in [("name", "name"), ("description", "description")]:
        if given.get(field) is not None:
            data[key] = given[field]
    if given.get("candidate_ids") is not None:
        data["candidates"] = given["candidate_ids"]
    save_cohort(cohort, data)
    return get_object_or_404(cohorts(request), pk=cohort.pk)
