"""/healthz: is this instance able to serve? For load balancers and monitoring.

Answers 200 when the database, the file storage and the task worker are all
fine, else 503 naming the failing part. It says nothing about users or data,
and the reasons for a failure go to the log, not the response.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Max
from django.http import JsonResponse
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_tasks_db.backend import DatabaseBackend

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)

PROBE_CONTENT = b"assessment-portal health probe\n"


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_storage():
    """Write, read back and delete a small object, as an upload and a download would."""
    name = default_storage.save(f"healthz/{uuid.uuid4().hex}.txt", ContentFile(PROBE_CONTENT))
    try:
        with default_storage.open(name, "rb") as probe:
            if probe.read() != PROBE_CONTENT:
                raise OSError("storage returned different content")
    finally:
        default_storage.delete(name)


def check_worker():
    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if not isinstance(backend, DatabaseBackend):
        return  # tasks run in the request; there is no worker to wait for
    since = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE)
    beats = WorkerHeartbeat.objects.filter(last_seen__gte=since).values_list("queues", flat=True)
    # Every queue needs a live worker: reports and e-mails can have workers of their own.
    unserved = backend.queues.difference(*beats)
    if unserved:
        last_seen = WorkerHeartbeat.objects.aggregate(last=Max("last_seen"))["last"]
        raise RuntimeError(
            f"no task worker has reported for the {', '.join(sorted(unserved))} queue(s) "
            f"since {since.isoformat()} (newest heartbeat: {last_seen})"
        )


CHECKS = {"database": check_database, "storage": check_storage, "worker": check_worker}


@login_not_required
@require_safe
@never_cache
def healthz(request):
    checks = {}
    for part, check in CHECKS.items():
        try:
            check()
        except Exception:
            logger.exception("health check failed: %s", part)
            checks[part] = "failing"
        else:
            checks[part] = "ok"
    failing = [part for part, state in checks.items() if state != "ok"]
    return JsonResponse(
        {"status": "failing" if failing else "ok", "failing": failing, "checks": checks},
        status=503 if failing else 200,
    )
