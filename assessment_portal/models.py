from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from .identifiers import validate_nsn, validate_usi


class User(AbstractUser):
    """A person who signs in: candidate, assessor or administrator.

    Moderation is not a role of its own: an assessor or administrator may
    also hold it (``is_moderator``).
    """

    class Role(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ASSESSOR = "assessor", "Assessor"
        ADMINISTRATOR = "administrator", "Administrator"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CANDIDATE)
    is_moderator = models.BooleanField(
        "moderator",
        default=False,
        help_text="May review other assessors' decisions in moderation "
        "(assessors and administrators).",
    )
    national_student_number = models.CharField(
        "NZ National Student Number",
        max_length=10,
        blank=True,
        validators=[validate_nsn],
    )
    unique_student_identifier = models.CharField(
        "AU Unique Student Identifier",
        max_length=10,
        blank=True,
        validators=[validate_usi],
    )

    # Kept by notifications.services, so every page's navbar shows it without a query.
    unread_notifications = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        # The forms' lists of staff, in name order, without reading every candidate: the
        # assessors by role, the moderators by their flag (~1.3 ms each at 10k otherwise).
        indexes = [
            models.Index(
                fields=["role", "last_name", "first_name", "username"], name="user_role_by_name"
            ),
            models.Index(
                fields=["last_name", "first_name", "username"],
                condition=models.Q(is_moderator=True),
                name="moderators_by_name",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(is_moderator=True, role="candidate"),
                name="candidates_cannot_moderate",
            ),
            models.UniqueConstraint(
                fields=["national_student_number"],
                condition=~models.Q(national_student_number=""),
                name="unique_nsn",
            ),
            models.UniqueConstraint(
                fields=["unique_student_identifier"],
                condition=~models.Q(unique_student_identifier=""),
                name="unique_usi",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    @property
    def is_candidate(self):
        return self.role == self.Role.CANDIDATE

    @property
    def is_assessor(self):
        return self.role == self.Role.ASSESSOR

    @property
    def is_administrator(self):
        return self.role == self.Role.ADMINISTRATOR

    @property
    def student_identifier(self):
        """The identifier results are reported with: NSN (NZQA) or USI (AU)."""
        return self.national_student_number or self.unique_student_identifier


class WorkerHeartbeat(models.Model):
    """The last sign of life of each task worker (``manage.py run_worker``).

    Each worker updates its row every few seconds; /healthz reports the workers
    unhealthy when a queue has no row newer than WORKER_HEARTBEAT_MAX_AGE.
    """

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    # The task queues it takes: with one worker for reports and one for the rest, either
    # can stop while the other still beats.
    queues = models.JSONField(default=list)

    def __str__(self):
        return f"{self.hostname}:{self.pid} ({self.worker_id})"
