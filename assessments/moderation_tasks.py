"""Background work for moderation, run by the task worker (``manage.py db_worker``)."""

from django.tasks import task

from . import moderation


@task(queue_name="exports")
def build_moderation_export(export_id):
    """Build a queued moderation report; its ModerationExport row records the outcome."""
    return moderation.run_export(export_id)
