"""The ways a notification reaches a person.

Every channel is a registered class; adding one (SMS, a chat webhook) is one
new class here with ``deliver``. ``notify`` hands each channel the
notifications it has just written, inside the caller's transaction.
"""

from django.db import transaction
from django.db.models import F

from assessment_portal.models import User

from .models import EmailOptOut, Notification
from .tasks import send_notification_email

CHANNELS = []


def register(channel_class):
    CHANNELS.append(channel_class())
    return channel_class


class Channel:
    name = ""

    def deliver(self, notifications):
        raise NotImplementedError


@register
class InApp(Channel):
    """The portal's own list: the row is the notification; the navbar counts unread ones."""

    name = "in-app"

    def deliver(self, notifications):
        for notification in notifications:
            User.objects.filter(pk=notification.recipient_id).update(
                unread_notifications=F("unread_notifications") + 1
            )


@register
class Email(Channel):
    """E-mail, composed and sent by the task worker once the event has committed."""

    name = "e-mail"

    def deliver(self, notifications):
        wanted = [n for n in notifications if n.recipient.email and n.recipient.is_active]
        opted_out = set(
            EmailOptOut.objects.filter(
                user__in=[n.recipient_id for n in wanted],
                kind__in={n.kind for n in wanted},
            ).values_list("user_id", "kind")
        )
        queued = [n for n in wanted if (n.recipient_id, n.kind) not in opted_out]
        if not queued:
            return
        Notification.objects.filter(pk__in=[n.pk for n in queued]).update(
            email=Notification.Email.QUEUED
        )
        for notification in queued:
            transaction.on_commit(
                lambda pk=notification.pk: send_notification_email.enqueue(pk), robust=True
            )
