"""Due-date reminders: 7 days before an enrolment is due, and once it is overdue.

``send_due_reminders`` is run daily by a scheduler (``manage.py send_due_reminders``).
Each enrolment gets at most one reminder per threshold and due date, however
often it runs: the DueReminder row is written in the same transaction as the
notification, under a unique constraint.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.formats import date_format

from assessments.models import Assessment, Enrolment

from .models import DueReminder, Kind
from .services import notify

DUE_SOON_DAYS = 7


def _unfinished():
    achieved = Assessment.objects.filter(enrolment=OuterRef("pk"), result="achieved")
    return (
        Enrolment.objects.filter(status=Enrolment.Status.ACTIVE, due_date__isnull=False)
        .exclude(Exists(achieved))
        .select_related("candidate", "assessor", "unit")
    )


def _thresholds(today):
    """Each threshold: which due dates it covers, and its words."""
    return [
        (
            Kind.DUE_SOON,
            {"due_date__gte": today, "due_date__lte": today + timedelta(DUE_SOON_DAYS)},
            "{code} is due on {due}",
            "{candidate}'s enrolment in {code} {title} is due on {due} and is not finished yet.",
        ),
        (
            Kind.OVERDUE,
            {"due_date__lt": today},
            "{code} is overdue (due {due})",
            "{candidate}'s enrolment in {code} {title} was due on {due} and is not finished "
            "yet. Agree the next step and a new due date.",
        ),
    ]


def _remind(enrolment, threshold, subject, body):
    try:
        with transaction.atomic():
            DueReminder.objects.create(
                enrolment=enrolment, threshold=threshold, due_date=enrolment.due_date
            )
            notify(
                kind=threshold,
                recipients=[enrolment.candidate, enrolment.assessor],
                subject=subject,
                body=body,
                url=enrolment.get_absolute_url(),
            )
    except IntegrityError:
        # Another run reminded this enrolment in the meantime.
        return False
    return True


def send_due_reminders(today=None):
    """Send the reminders due today; returns how many enrolments were reminded, per threshold."""
    today = today or timezone.localdate()
    sent = {}
    for threshold, dates, subject, body in _thresholds(today):
        already = DueReminder.objects.filter(
            enrolment=OuterRef("pk"), threshold=threshold, due_date=OuterRef("due_date")
        )
        sent[threshold] = 0
        for enrolment in _unfinished().filter(**dates).exclude(Exists(already)).iterator():
            words = {
                "code": enrolment.unit.display_code,
                "title": enrolment.unit.title,
                "candidate": enrolment.candidate,
                "due": date_format(enrolment.due_date, "j F Y"),
            }
            sent[threshold] += _remind(
                enrolment, threshold, subject.format(**words), body.format(**words)
            )
    return sent
