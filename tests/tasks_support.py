"""Running a test's background tasks on another backend, with the project's queues."""

from django.conf import settings as project_settings

IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"
DATABASE = "django_tasks_db.DatabaseBackend"


def use_task_backend(settings, backend):
    """Point pytest-django's ``settings`` fixture at ``backend``, keeping the queues."""
    settings.TASKS = {"default": {**project_settings.TASKS["default"], "BACKEND": backend}}
