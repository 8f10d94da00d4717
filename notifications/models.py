from django.conf import settings
from django.db import models

from assessment_portal.links import object_url
from assessments.models import Enrolment


class Kind(models.TextChoices):
    """What happened. Each person can turn e-mail off per kind; the in-app list keeps them all."""

    SUBMITTED = "submitted", "A candidate submits evidence for judgement"
    SIGNED_OFF = "signed_off", "My result and feedback are ready"
    RESUBMISSION = "resubmission", "A resubmission opens for me"
    SAMPLE_ASSIGNED = "sample_assigned", "A decision is assigned to me for moderation"
    MODERATED = "moderated", "A moderator reviews one of my decisions"
    AMENDED = "amended", "A result I am part of is amended"
    DUE_SOON = "due_soon", "A unit is due within 7 days"
    OVERDUE = "overdue", "A unit is overdue"


# Who can receive each kind, so the e-mail settings page offers only what applies.
AUDIENCE = {
    "candidate": [Kind.SIGNED_OFF, Kind.RESUBMISSION, Kind.AMENDED, Kind.DUE_SOON, Kind.OVERDUE],
    "assessor": [Kind.SUBMITTED, Kind.MODERATED, Kind.AMENDED, Kind.DUE_SOON, Kind.OVERDUE],
    "administrator": [],
}


def kinds_for(user):
    kinds = list(AUDIENCE.get(user.role, []))
    if user.is_moderator:
        kinds.append(Kind.SAMPLE_ASSIGNED)
    return kinds


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Notifications are private to the person they were sent to."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(recipient=user)


class Notification(models.Model):
    """One thing one person is told about, listed in the portal and perhaps e-mailed."""

    class Email(models.TextChoices):
        NOT_SENT = "", "Not e-mailed"
        QUEUED = "queued", "E-mail queued"
        SENT = "sent", "E-mailed"
        FAILED = "failed", "E-mail failed"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=300, help_text="The portal page this is about.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email = models.CharField(max_length=6, choices=Email.choices, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
        ]

    def __str__(self):
        return self.subject

    def get_absolute_url(self):
        return object_url("notifications:open", self.pk)


class EmailOptOut(models.Model):
    """A person asked not to be e-mailed about one kind of notification."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_opt_outs"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="opt_out_of_a_kind_once"),
        ]

    def __str__(self):
        return f"{self.user}: no e-mail for {self.get_kind_display()}"


class DueReminder(models.Model):
    """A due-date reminder sent for an enrolment, so the daily run sends each one once."""

    class Threshold(models.TextChoices):
        DUE_SOON = Kind.DUE_SOON.value, "Due within 7 days"
        OVERDUE = Kind.OVERDUE.value, "Overdue"

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="+")
    threshold = models.CharField(max_length=20, choices=Threshold.choices)
    # A due date moved later earns fresh reminders for the new date.
    due_date = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "threshold", "due_date"], name="remind_once_per_threshold"
            ),
        ]

    def __str__(self):
        return f"{self.get_threshold_display()} reminder for {self.enrolment_id}"
