from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from .append_only import reinstall


def _reinstall_append_only_triggers(sender, using, **kwargs):
    reinstall(connections[using])


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Enrolments and assessments"

    def ready(self):
        post_migrate.connect(_reinstall_append_only_triggers, sender=self)
