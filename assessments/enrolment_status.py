"""Enrolments that end other than by assessment: withdrawal, RPL and credit transfer.

An administrator records the decision with the day it took effect and a
reason; the enrolment's status changes and the decision is appended to its
history (EnrolmentStatusChange, never edited). A mistaken decision is undone
by reinstating the enrolment (status back to active), itself recorded.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from . import signals
from .models import Assessment, Enrolment, EnrolmentStatusChange

audit_log = logging.getLogger("assessment_portal.audit")

Status = Enrolment.Status
# Recognition instead of assessment: only before any evidence has been judged.
INSTEAD_OF_ASSESSMENT = {Status.RPL_GRANTED, Status.RPL_NOT_GRANTED, Status.CREDIT_TRANSFER}


def check_change(enrolment, new_status, attempts):
    """Why ``enrolment`` cannot move to ``new_status``, as a ValidationError."""
    if new_status not in Status.values:
        raise ValidationError("Choose withdrawn, RPL granted, RPL not granted or credit transfer.")
    if new_status == enrolment.status:
        raise ValidationError(f"The enrolment is already {enrolment.get_status_display()}.")
    if enrolment.status != Status.ACTIVE and new_status != Status.ACTIVE:
        raise ValidationError(
            f"The enrolment is {enrolment.get_status_display()}; reinstate it (make it active) "
            "before recording another decision."
        )
    if new_status in INSTEAD_OF_ASSESSMENT and any(
        attempt.status != Assessment.Status.OPEN for attempt in attempts
    ):
        raise ValidationError(
            "Evidence has already been submitted for assessment in this enrolment; RPL and "
            "credit transfer replace assessment, so they can only be recorded before that. "
            "Amend the result instead."
        )
    if new_status == Status.WITHDRAWN and any(
        attempt.result == Assessment.Result.ACHIEVED for attempt in attempts
    ):
        raise ValidationError(
            f"The candidate has already achieved {enrolment.unit.display_code}; "
            "a completed unit cannot be withdrawn from."
        )


@transaction.atomic
def change_status(*, enrolment, new_status, effective_date, reason, by):
    """Record a withdrawal, RPL decision, credit transfer or reinstatement."""
    if not by.is_administrator:
        raise PermissionDenied
    enrolment = Enrolment.objects.select_for_update().select_related("unit").get(pk=enrolment.pk)
    if not reason.strip():
        raise ValidationError("Give the reason for the decision.")
    if effective_date is None:
        raise ValidationError("Give the date the decision took effect.")
    if effective_date > timezone.localdate():
        raise ValidationError("The date the decision took effect cannot be in the future.")
    check_change(enrolment, new_status, list(enrolment.assessments.all()))
    change = EnrolmentStatusChange.objects.create(
        enrolment=enrolment,
        previous_status=enrolment.status,
        new_status=new_status,
        effective_date=effective_date,
        reason=reason.strip(),
        changed_by=by,
    )
    enrolment.status = new_status
    enrolment.save(update_fields=["status"])
    audit_log.info(
        "enrolment status changed: enrolment=%s %s->%s effective=%s by=%s",
        enrolment.pk,
        change.previous_status,
        new_status,
        effective_date.isoformat(),
        by.pk,
    )
    signals.enrolment_status_changed.send(sender=Enrolment, change=change)
    return change


def withdraw(*, enrolment, by, reason, effective_date=None):
    return change_status(
        enrolment=enrolment,
        new_status=Status.WITHDRAWN,
        effective_date=effective_date or timezone.localdate(),
        reason=reason,
        by=by,
    )
