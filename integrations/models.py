"""Machine access (API tokens and their call log), webhooks, and the results feed."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A student management system's key to the API.

    Only the SHA-256 of the token is stored; the token itself is shown once,
    when created. The prefix (the first characters) identifies it in lists
    and logs. A token acts for a person — an administrator (the whole
    institution's data) or an assessor (their own candidates) — so it sees
    exactly what that person sees on the pages, and it stops working if that
    person is deactivated or becomes a candidate.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read results"
        WRITE_ENROLMENTS = "write_enrolments", "Read results and write enrolments"

    name = models.CharField(max_length=100, help_text="Which system uses it, e.g. “aXcelerate”.")
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    expires_at = models.DateTimeField(null=True, blank=True)
    acts_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write_enrolments(self):
        return self.scope == self.Scope.WRITE_ENROLMENTS

    @property
    def state(self):
        if self.revoked_at:
            return "Revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "Expired"
        if not (
            self.acts_for.is_active
            and (self.acts_for.is_administrator or self.acts_for.is_assessor)
        ):
            return f"Suspended: {self.acts_for} is no longer an active administrator or assessor"
        return "Active"

    @property
    def is_usable(self):
        return self.state == "Active"


class ApiCall(models.Model):
    """One request made with a token: kept for administrators to audit."""

    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="calls")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["-at", "-id"], name="api_call_recent")]

    def __str__(self):
        return f"{self.method} {self.path} {self.status}"


class ResultChange(models.Model):
    """One entry in the results feed: an enrolment's result was decided or corrected.

    Written in the same transaction as the sign-off, amendment or status
    decision it records, so the feed never misses or invents one. The feed
    orders by (changed_at, id) and its cursor resumes after the last entry read.
    """

    class Event(models.TextChoices):
        SIGNED_OFF = "result.signed_off", "Result signed off"
        AMENDED = "result.amended", "Result amended"
        STATUS_CHANGED = "enrolment.status_changed", "Withdrawal, RPL or credit transfer"

    enrolment = models.ForeignKey(
        "assessments.Enrolment", on_delete=models.PROTECT, related_name="+"
    )
    assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=30, choices=Event.choices)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["changed_at", "id"], name="result_feed_order")]

    def __str__(self):
        return (
            f"{self.get_event_display()}: {self.enrolment_id} at {self.changed_at:%Y-%m-%d %H:%M}"
        )


class Webhook(models.Model):
    """A URL that receives sign-off and amendment events, signed with a shared secret."""

    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=200, help_text="Shared with the receiver, which checks each signature with it."
    )
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField("active", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url", "pk"]

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook, with every attempt's outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        RETRYING = "retrying", "Failed; will retry"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed; gave up"

    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="deliveries")
    event_id = models.UUIDField()
    event = models.CharField(max_length=30, choices=ResultChange.Event.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="deliver_event_once"),
        ]
        indexes = [models.Index(fields=["webhook", "-created_at"], name="webhook_delivery_recent")]

    def __str__(self):
        return f"{self.event} to {self.webhook}"
