from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router, Schema
from ninja.pagination import paginate

from standards.models import Unit

from .. import case
from .pagination import Paged
from .schemas import responses

router = Router(tags=["units"])

Code = Path(..., pattern=r"^[A-Za-z0-9._-]{1,20}$")
Version = Query(None, pattern=r"^[A-Za-z0-9._-]{1,20}$", description="Default: the latest.")


class RangeItemOut(Schema):
    position: int
    text: str


class RangeStatementOut(Schema):
    position: int
    term: str
    wording: str
    coverage: str
    minimum: int | None
    items: list[RangeItemOut]
    criteria: list[str]

    @staticmethod
    def resolve_items(obj):
        return list(obj.items.all())

    @staticmethod
    def resolve_criteria(obj):
        return [criterion.number for criterion in obj.criteria.all()]


class CriterionOut(Schema):
    id: int
    number: str
    text: str


class OutcomeOut(Schema):
    id: int
    number: str
    title: str
    criteria: list[CriterionOut]

    @staticmethod
    def resolve_criteria(obj):
        return list(obj.criteria.all())


class UnitSummaryOut(Schema):
    id: int
    framework: str
    code: str
    version: str
    title: str
    level: int | None
    credits: int | None


class UnitOut(UnitSummaryOut):
    purpose: str
    outcome_label: str
    criterion_label: str
    outcomes: list[OutcomeOut]
    range_statements: list[RangeStatementOut]

    @staticmethod
    def resolve_outcomes(obj):
        return list(obj.outcomes.all())

    @staticmethod
    def resolve_range_statements(obj):
        return list(obj.range_statements.all())


def get_unit(code, version=None):
    """The unit with this code: its current release unless a version is named."""
    units = Unit.objects.with_structure().filter(code=code)
    units = units.filter(version=version) if version else units.current()
    return get_object_or_404(units[:1])


@router.get("", response=responses(200, list[UnitSummaryOut]), summary="List units")
@paginate(Paged)
def list_units(request):
    return Unit.objects.order_by("framework", "code", "pk")


@router.get(
    "/{code}", response=responses(200, UnitOut), summary="A unit with outcomes, criteria and range"
)
def get_unit_detail(request, code: str = Code, version: str | None = Version):
    return get_unit(code, version)


@router.get(
    "/{code}/case",
    response=responses(200, dict),
    summary="A unit as a 1EdTech CASE 1.1 package (CFDocument, CFItems, CFAssociations)",
)
def get_unit_case(request, code: str = Code, version: str | None = Version):
    return case.package(get_unit(code, version))
