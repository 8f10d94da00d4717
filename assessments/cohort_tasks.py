"""Background work for cohorts, run by the task worker (``manage.py db_worker``)."""

from django.tasks import task

from . import cohorts


@task()
def enrol_cohort(request_id):
    """Carry out a queued CohortEnrolment; its row records the outcome."""
    return cohorts.run_enrolment(request_id)
