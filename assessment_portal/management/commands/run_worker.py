"""The task worker with a heartbeat: django-tasks-db's ``db_worker`` plus a
row in WorkerHeartbeat refreshed every few seconds, which /healthz reads.

Takes the same options as ``db_worker``, but takes every queue unless told which:
one worker is enough for a small site; `make serve` runs one for the "exports" queue
(moderation reports) and one for the rest (README, "Deploying").
"""

import logging
import os
import socket
import threading
from datetime import timedelta

from django.db import DatabaseError, close_old_connections
from django.tasks import task_backends
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from assessment_portal.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10  # seconds; WORKER_HEARTBEAT_MAX_AGE should be a few of these
FORGET_AFTER = timedelta(days=1)  # rows of workers gone this long are deleted


def beat(worker_id, started_at, queues):
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started_at,
            "last_seen": now,
            "queues": queues,
        },
    )


def queues_taken(options):
    """The configured queues a worker started with these options takes."""
    configured = task_backends[options["backend_name"]].queues
    named = set(options["queue_name"].split(","))
    if "*" not in named:
        return sorted(named & configured)
    excluded = set(filter(None, (options["exclude_queues"] or "").split(",")))
    return sorted(configured - excluded)


def keep_beating(worker_id, started_at, queues, stop):
    while not stop.wait(HEARTBEAT_INTERVAL):
        close_old_connections()
        try:
            beat(worker_id, started_at, queues)
        except DatabaseError:
            # The worker's own loop hits the same database; /healthz shows the outage.
            logger.exception("task worker heartbeat not recorded")


class Command(db_worker.Command):
    help = "Run the background task worker, recording a heartbeat for /healthz"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(queue_name="*")

    def handle(self, *args, **options):
        if options["reload"] and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true":
            # The autoreloader's parent only restarts the child, which beats.
            return super().handle(*args, **options)
        worker_id = options["worker_id"]
        started_at = timezone.now()
        queues = queues_taken(options)
        WorkerHeartbeat.objects.filter(last_seen__lt=started_at - FORGET_AFTER).delete()
        beat(worker_id, started_at, queues)
        stop = threading.Event()
        if not options["batch"]:
            threading.Thread(
                target=keep_beating, args=(worker_id, started_at, queues, stop), daemon=True
            ).start()
        try:
            return super().handle(*args, **options)
        finally:
            stop.set()
