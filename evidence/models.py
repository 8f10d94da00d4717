"""A candidate's evidence portfolio.

Evidence belongs to the candidate, not to one enrolment: an item may be
mapped to criteria of several units (holistic assessment). Once an item has
been submitted for assessment it is locked — the record the assessor judged
must stay exactly as it was.
"""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.lookups import Exact, GreaterThan

from assessment_portal.links import object_url
from assessment_portal.queries import built_once, count_of
from assessments.models import Assessment, Enrolment, ModerationSample
from standards.models import PerformanceCriterion


class EvidenceQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Candidates see their own; assessors what they assess; administrators all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_administrator:
            return self
        if user.is_assessor:
            # Only what they assess: items mapped to, or submitted in, a unit they assess
            # for the candidate, the candidate's items not mapped to any unit yet, and the
            # records they made themselves; not evidence for units someone else assesses.
            # A moderator also opens the evidence of the decisions sampled for them.
            # Each rule is tested on the rows a page reads, newest first, so a page stops
            # once it has its rows: the whole set costs ~30 ms at 10,000 candidates, a
            # page of it ~2 ms (issue 13). Not mapped is a count, not NOT EXISTS, which
            # PostgreSQL would answer by hashing every mapping in the table.
            # The units by their ids, not joined: a join of the units table in this test
            # cost PostgreSQL ~0.8 ms more to plan and ~0.8 ms more to run on each page.
            units_they_assess = Enrolment.objects.filter(
                assessor=user, candidate=OuterRef(OuterRef("candidate"))
            ).values("unit")
            mapped_for_them = EvidenceMapping.objects.filter(
                evidence=OuterRef("pk"), criterion__outcome__unit__in=units_they_assess
            )
            mappings = EvidenceMapping.objects.filter(evidence=OuterRef("pk"))
            submitted = Assessment.evidence.through.objects.filter(
                evidence=OuterRef("pk"), assessment__enrolment__assessor=user
            )
            moderated = Assessment.evidence.through.objects.filter(
                evidence=OuterRef("pk"),
                assessment__in=ModerationSample.objects.moderated_by(user).values("assessment"),
            )
            their_candidates = Enrolment.objects.filter(assessor=user).values("candidate")
            return self.filter(
                Q(
                    Q(candidate__in=their_candidates),
                    Exists(mapped_for_them) | Q(Exact(count_of(mappings), 0)) | Exists(submitted),
                )
                | Q(recorded_by=user)
                | Exists(moderated)
            )
        return self.filter(candidate=user)

    def with_lock_state(self):
        return self.annotate(**_lock_state())


@built_once
def _lock_state():
    submitted = Assessment.evidence.through.objects.filter(evidence=OuterRef("pk"))
    # A count, not Exists: under a list page's LIMIT, PostgreSQL hashes an EXISTS in the
    # select list over every submitted item instead (46k rows at 10k candidates, 11 ms).
    return {"is_submitted": GreaterThan(count_of(submitted), 0)}


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
        return object_url("evidence:evidence_detail", self.pk)

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
        return object_url("evidence:file_download", self.pk)


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
        through="MappedRangeItem",
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


class MappedRangeItem(models.Model):
    """A range item a mapping claims the evidence covers; PROTECT keeps the claim intact.

    The table is the one Django made for the plain many-to-many field before.
    """

    evidencemapping = models.ForeignKey(EvidenceMapping, on_delete=models.CASCADE)
    rangeitem = models.ForeignKey("standards.RangeItem", on_delete=models.PROTECT)

    class Meta:
        db_table = "evidence_evidencemapping_range_items"
        # As Django made it for the plain many-to-many table (same index).
        unique_together = [("evidencemapping", "rangeitem")]

    def __str__(self):
        return f"{self.evidencemapping_id} covers {self.rangeitem_id}"


class MappingDecision(models.Model):
    """The assessor's view of a candidate's mapping, in one attempt: does this item show it?

    Confirmed mappings feed the criterion's judgement (their range items are
    ticked for the assessor); rejected ones are listed as rejected, with why.
    One row per attempt and mapping, holding the latest decision; every change
    is also in the attempt's audit trail.
    """

    class Decision(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"

    assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.PROTECT, related_name="mapping_decisions"
    )
    mapping = models.ForeignKey(EvidenceMapping, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "mapping"], name="decide_each_mapping_once_per_attempt"
            ),
        ]

    def __str__(self):
        return f"{self.mapping}: {self.decision}"
