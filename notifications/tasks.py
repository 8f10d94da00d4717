"""E-mail for notifications, composed and sent by the task worker (``manage.py db_worker``)."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import Notification

log = logging.getLogger("assessment_portal.notifications")


def absolute(path):
    return settings.PORTAL_URL.rstrip("/") + path


@task()
def send_notification_email(notification_id):
    """Send one queued notification by e-mail: a plain-text part and an HTML one, both linked."""
    claimed = Notification.objects.filter(
        pk=notification_id, email=Notification.Email.QUEUED
    ).update(email=Notification.Email.SENT, emailed_at=timezone.now())
    if not claimed:
        # Delivered twice, or the e-mail was already dealt with: send nothing more.
        return False
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    context = {
        "notification": notification,
        "recipient": notification.recipient,
        "link": absolute(notification.get_absolute_url()),
        "settings_link": absolute(reverse("notifications:settings")),
    }
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=render_to_string("notifications/email.txt", context),
        to=[notification.recipient.email],
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    try:
        message.send()
    except Exception:
        log.exception("notification e-mail failed: notification=%s", notification_id)
        Notification.objects.filter(pk=notification_id).update(
            email=Notification.Email.FAILED, emailed_at=None
        )
        raise
    return True
