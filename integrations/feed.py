"""The results feed: every sign-off, amendment and status decision, in order.

A student management system polls it with ``changed_since`` or the cursor
from its last page and gets each change once; an amended result appears
again, as a new entry, when it is amended. The cursor is opaque to clients:
it encodes the (changed_at, id) of the last entry read.
"""

import base64
import binascii
import json
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q
from django.utils import timezone

from assessments.models import Enrolment

from .models import ResultChange
from .results import reported_result, with_result_data

# An entry's time is set inside the transaction that writes it, which may commit a
# moment after a later one. Entries younger than this are held back, so a poller's
# cursor never passes an entry that has not been committed yet.
SETTLE = timedelta(seconds=5)


class BadCursor(ValueError):
    pass


def encode_cursor(change):
    raw = json.dumps([change.changed_at.isoformat(), change.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, pk = json.loads(raw)
        moment = datetime.fromisoformat(moment)
        if not isinstance(pk, int) or moment.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(
            "The cursor is not one this feed gave out; start again without it."
        ) from None
    return moment, pk


def page(*, user, changed_since=None, cursor=None, limit=100):
    """(changes, whether more follow): up to ``limit`` entries after the cursor,
    of the enrolments ``user`` may see."""
    changes = ResultChange.objects.filter(
        enrolment__in=Enrolment.objects.visible_to(user),
        changed_at__lte=timezone.now() - SETTLE,
    ).order_by("changed_at", "id")
    if cursor:
        moment, pk = decode_cursor(cursor)
        changes = changes.filter(Q(changed_at__gt=moment) | Q(changed_at=moment, id__gt=pk))
    elif changed_since is not None:
        changes = changes.filter(changed_at__gte=changed_since)
    changes = list(
        changes.prefetch_related(
            Prefetch("enrolment", queryset=with_result_data(Enrolment.objects.all()))
        )[: limit + 1]
    )
    return changes[:limit], len(changes) > limit


def item(change):
    """A feed entry as plain data: the event and the enrolment's result now."""
    result = reported_result(change.enrolment)
    enrolment = change.enrolment
    candidate, unit, attempt = enrolment.candidate, enrolment.unit, result.attempt
    return {
        "event_id": str(change.event_id),
        "event": change.event,
        "changed_at": change.changed_at,
        "enrolment_id": enrolment.pk,
        "candidate": {
            "id": candidate.pk,
            "family_name": candidate.last_name,
            "given_name": candidate.first_name,
            "nsn": candidate.national_student_number,
            "usi": candidate.unique_student_identifier,
        },
        "unit": {
            "code": unit.code,
            "version": unit.version,
            "framework": unit.framework,
            "title": unit.title,
        },
        "outcome": result.kind,
        "avetmiss_outcome": result.avetmiss_outcome if not unit.is_nzqa else None,
        "nzqa_result": result.nzqa_result if unit.is_nzqa else None,
        "attempt_id": attempt.pk if attempt else None,
        "attempt": attempt.attempt if attempt else None,
        "result": attempt.result if attempt else None,
        "result_label": unit.result_label(attempt.result) if attempt else None,
        "signed_off_at": result.signed_off_at,
        "amended": result.amended,
        "amended_at": result.amended_at,
        "decided_on": result.decided_on,
        "achieved_on": result.achieved_on,
    }
