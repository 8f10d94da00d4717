"""Background work for integrations, run by the task worker (``manage.py db_worker``)."""

from django.db import transaction
from django.tasks import task

from . import webhooks


@task()
def deliver_webhook(delivery_id):
    """Send one webhook delivery; a failure is tried again later by a deferred task."""
    status, retry_at = webhooks.deliver(delivery_id)
    # The immediate backend (tests, development) cannot defer; the log then shows the failure.
    if retry_at is not None and deliver_webhook.get_backend().supports_defer:
        deliver_webhook.using(run_after=retry_at).enqueue(delivery_id)
    return status


def send_after_commit(deliveries):
    """Queue the deliveries once the decision that caused them is committed."""
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: [deliver_webhook.enqueue(pk) for pk in ids])
