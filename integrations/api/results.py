from datetime import UTC, date, datetime

from django.utils import timezone
from ninja import Query, Router, Schema

from .. import feed
from .auth import acting_user
from .schemas import responses

router = Router(tags=["results"])


class CandidateRef(Schema):
    id: int
    family_name: str
    given_name: str
    nsn: str
    usi: str


class UnitRef(Schema):
    code: str
    version: str
    framework: str
    title: str


class ResultItem(Schema):
    event_id: str
    event: str
    changed_at: datetime
    enrolment_id: int
    candidate: CandidateRef
    unit: UnitRef
    outcome: str
    avetmiss_outcome: str | None
    nzqa_result: str | None
    attempt_id: int | None
    attempt: int | None
    result: str | None
    result_label: str | None
    signed_off_at: datetime | None
    amended: bool
    amended_at: datetime | None
    decided_on: date | None
    achieved_on: date | None


class ResultsPage(Schema):
    items: list[ResultItem]
    next_cursor: str | None
    has_more: bool


@router.get(
    "",
    response=responses(200, ResultsPage),
    summary="Results feed: sign-offs, amendments and status decisions in order",
    description=(
        "Poll with `changed_since` (ISO 8601) the first time, then with the `next_cursor` "
        "of the previous page: each change is returned once, in (changed_at, id) order, "
        "and an amended result appears again when it is amended. Each item carries the "
        "enrolment's result as it is now. `next_cursor` is null only when no item has "
        "been read yet; `has_more` says whether to fetch the next page straight away."
    ),
)
def results_feed(
    request,
    changed_since: datetime | None = None,
    cursor: str | None = Query(None, pattern=r"^[A-Za-z0-9_-]{1,200}$"),
    limit: int = Query(100, ge=1, le=500),
):
    if changed_since is not None and timezone.is_naive(changed_since):
        changed_since = changed_since.replace(tzinfo=UTC)
    changes, more = feed.page(
        user=acting_user(request), changed_since=changed_since, cursor=cursor, limit=limit
    )
    return {
        "items": [feed.item(change) for change in changes],
        "next_cursor": feed.encode_cursor(changes[-1]) if changes else cursor,
        "has_more": more,
    }
