"""Telling people what happened: write notifications and hand them to every channel.

Receivers (receivers.py) and the reminder command call ``notify``; views call
the read/settings functions. Writes run in the caller's transaction, so a
notification exists exactly when the event it reports was committed.
"""

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from assessment_portal.models import User

from .channels import CHANNELS
from .models import EmailOptOut, Notification, kinds_for


@transaction.atomic
def notify(*, kind, recipients, subject, body, url, actor=None):
    """Notify each recipient once; the person who caused the event is not told about it."""
    seen = set()
    people = []
    for person in recipients:
        if person is None or person.pk in seen or (actor is not None and person.pk == actor.pk):
            continue
        seen.add(person.pk)
        people.append(person)
    notifications = Notification.objects.bulk_create(
        Notification(recipient=person, kind=kind, subject=subject, body=body, url=url)
        for person in people
    )
    for channel in CHANNELS:
        channel.deliver(notifications)
    return notifications


@transaction.atomic
def mark_read(notification):
    """Mark one notification read; the unread count drops only if it really was unread."""
    changed = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if changed:
        _lower_unread(notification.recipient_id, changed)
    return changed


@transaction.atomic
def mark_all_read(user):
    changed = Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if changed:
        _lower_unread(user.pk, changed)
    return changed


def _lower_unread(user_id, by):
    User.objects.filter(pk=user_id).update(
        unread_notifications=Greatest(F("unread_notifications") - by, 0)
    )


def emailed_kinds(user):
    """The kinds this person is e-mailed about (every kind that applies, less opt-outs)."""
    opted_out = set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
    return [kind for kind in kinds_for(user) if kind not in opted_out]


@transaction.atomic
def set_emailed_kinds(user, kinds):
    """Keep e-mail on for ``kinds`` and off for every other kind that applies to this person."""
    applicable = set(kinds_for(user))
    unknown = set(kinds) - applicable
    if unknown:
        raise ValueError(f"Not a notification this person receives: {sorted(unknown)}")
    off = applicable - set(kinds)
    EmailOptOut.objects.filter(user=user).exclude(kind__in=off).delete()
    existing = set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
    EmailOptOut.objects.bulk_create(EmailOptOut(user=user, kind=kind) for kind in off - existing)
