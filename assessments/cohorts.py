"""Enrolling a whole cohort in a unit, in the background.

A cohort can hold hundreds of candidates, so the page records a request
(``CohortEnrolment``) and the task worker carries it out with
``services.enrol_cohort``; the page shows its status until it is done.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from . import cohort_tasks, services
from .models import CohortEnrolment

audit_log = logging.getLogger("assessment_portal.audit")


def request_enrolment(*, cohort, unit, assessor, by, due_date=None):
    """Check what can be checked now, then queue the enrolment; returns the request."""
    if not by.is_administrator:
        raise PermissionDenied
    if not cohort.candidates.filter(is_active=True).exists():
        raise ValidationError(f"Cohort {cohort} has no active candidates to enrol.")
    services.check_assessor(assessor)
    request = CohortEnrolment.objects.create(
        cohort=cohort, unit=unit, assessor=assessor, due_date=due_date, requested_by=by
    )
    result = cohort_tasks.enrol_cohort.enqueue(request.pk)
    # update(), not save(): with an inline backend the task has already finished.
    CohortEnrolment.objects.filter(pk=request.pk).update(task_result_id=str(result.id))
    audit_log.info(
        "cohort enrolment requested: request=%s cohort=%s unit=%s by=%s",
        request.pk,
        cohort.pk,
        unit.code,
        by.pk,
    )
    request.refresh_from_db()
    return request


def run_enrolment(request_id):
    """Carry out a queued request once (a task delivered twice does the work once).

    A broken rule (say the assessor was deactivated meanwhile) fails the request
    with its message and enrols nobody; anything else is logged and re-raised.
    """
    claimed = CohortEnrolment.objects.filter(
        pk=request_id, status=CohortEnrolment.Status.QUEUED
    ).update(status=CohortEnrolment.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    request = CohortEnrolment.objects.select_related(
        "cohort", "unit", "assessor", "requested_by"
    ).get(pk=request_id)
    failed = CohortEnrolment.objects.filter(pk=request_id)
    try:
        enrolled, skipped = services.enrol_cohort(
            cohort=request.cohort,
            unit=request.unit,
            assessor=request.assessor,
            by=request.requested_by,
            due_date=request.due_date,
        )
    except ValidationError as error:
        failed.update(
            status=CohortEnrolment.Status.FAILED,
            error=" ".join(error.messages),
            finished_at=timezone.now(),
        )
        return None
    except Exception:
        audit_log.exception("cohort enrolment failed: request=%s", request_id)
        failed.update(
            status=CohortEnrolment.Status.FAILED,
            error="The enrolment could not be completed and nobody was enrolled. Try again; "
            "if it fails again, ask the system administrator to check the log.",
            finished_at=timezone.now(),
        )
        raise
    CohortEnrolment.objects.filter(pk=request_id).update(
        status=CohortEnrolment.Status.DONE,
        enrolled=len(enrolled),
        skipped=len(skipped),
        finished_at=timezone.now(),
    )
    return len(enrolled)
