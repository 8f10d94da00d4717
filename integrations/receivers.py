"""Listens to the assessment services: each decision goes into the results feed and webhooks."""

from django.dispatch import receiver

from assessments import signals

from .models import ResultChange
from .tasks import send_after_commit
from .webhooks import queue_deliveries


def record(event, *, enrolment, assessment=None):
    change = ResultChange.objects.create(enrolment=enrolment, assessment=assessment, event=event)
    send_after_commit(queue_deliveries(change))
    return change


@receiver(signals.result_signed_off)
def signed_off(sender, assessment, **kwargs):
    record(ResultChange.Event.SIGNED_OFF, enrolment=assessment.enrolment, assessment=assessment)


@receiver(signals.result_amended)
def amended(sender, amendment, **kwargs):
    assessment = amendment.assessment
    record(ResultChange.Event.AMENDED, enrolment=assessment.enrolment, assessment=assessment)


@receiver(signals.enrolment_status_changed)
def status_changed(sender, change, **kwargs):
    record(ResultChange.Event.STATUS_CHANGED, enrolment=change.enrolment)
