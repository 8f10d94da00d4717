"""A candidate's evidence portfolio.

Evidence belongs to the candidate, not to one enrolment: an item may be
mapped to criteria of several units (holistic assessment). Once an item has
been submitted for assessment it is locked — the record the assessor judged
must stay exactly as it was.
"""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.urls import reverse

from standards.models import PerformanceCriterion


class EvidenceQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Candidates see their own; assessors their assigned candidates'; administrators all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_administrator:
            return self
        if user.is_assessor:
            from assessments.models import Enrolment, ModerationSample

            assigned = Enrolment.objects.filter(candidate=OuterRef("candidate"), assessor=user)
            # A moderator opens the evidence of the decisions sampled for them.
            moderated = ModerationSample.objects.moderated_by(user).filter(
                assessment__evidence=OuterRef("pk")
            )
            return self.filter(Exists(assigned) | Exists(moderated))
        return self.filter(candidate=user)

    def with_lock_state(self):
        from assessments.models import Assessment

        submitted = Assessment.evidence.through.objects.filter(evidence=OuterRef("pk"))
        return self.annotate(is_submitted=Exists(submitted))


class Evidence(models.Model):
    class Kind(models.TextChoices):
        FILE = "file", "Uploaded files"
        WRITTEN = "written", "Written answer"
        OBSERVATION = "observation", "Observation record"
        QUESTIONING = "questioning", "Questioning record"
        THIRD_PARTY = "third_party", "Third-party report"

    # Kinds an assessor records about the candidate, rather than the candidate uploads.
    ASSESSOR_KINDS = {Kind.OBSERVATION, Kind.QUESTIONING, Kind.THIRD_PARTY}

    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="evidence"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Context: what this shows and when.")
    text = models.TextField(
        blank=True,
        help_text="The written answer, the observation or questioning record, or the "
        "third party's statement.",
    )
    occurred_on = models.DateField(
        null=True, blank=True, help_text="When the observation, questioning or work took place."
    )
    third_party_name = models.CharField(max_length=200, blank=True)
    third_party_role = models.CharField(max_length=200, blank=True)
    third_party_contact = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["created_at"], name="evidence_created_at")]
        verbose_name_plural = "evidence"

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("evidence:evidence_detail", args=[self.pk])

    @property
    def is_locked(self):
        """Submitted evidence cannot be edited or deleted."""
        if hasattr(self, "is_submitted"):
            return self.is_submitted
        return self.assessments.exists()


class EvidenceFile(models.Model):
    """One uploaded file of an evidence item, stored under a server-generated name."""

    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="files")
    file = models.FileField(max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("evidence:file_download", args=[self.pk])


class EvidenceMapping(models.Model):
    """The candidate's claim that an item shows a criterion, with why."""

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="mappings")
    criterion = models.ForeignKey(
        PerformanceCriterion, on_delete=models.PROTECT, related_name="evidence_mappings"
    )
    note = models.TextField(blank=True)
    range_items = models.ManyToManyField(
        "standards.RangeItem",
        blank=True,
        related_name="+",
        help_text="The items of the criterion's range this evidence covers, "
        "as the candidate sees it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["criterion__outcome__unit", "criterion__sort_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", "criterion"], name="map_evidence_to_criterion_once"
            ),
        ]

    def __str__(self):
        return f"{self.evidence} → {self.criterion.number}"
