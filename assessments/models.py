from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

from assessment_portal.links import object_url
from assessment_portal.queries import built_once, count_of
from standards.models import PerformanceCriterion, Unit


class CohortQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Administrators see every cohort; others those with an enrolment they may see."""
        if not user.is_authenticated:
            return self.none()
        if user.is_administrator:
            return self
        return self.filter(Exists(Enrolment.objects.visible_to(user).filter(cohort=OuterRef("pk"))))

    def with_progress(self):
        """Each cohort's enrolments counted: all (``enrolled``), those with an attempt
        awaiting judgement (``submitted``) and those achieved (``achieved``)."""
        return self.annotate(**_cohort_progress())


@built_once
def _cohort_progress():
    in_cohort = Enrolment.objects.filter(cohort=OuterRef("pk"))

    def with_attempt(**state):
        return in_cohort.filter(
            Exists(Assessment.objects.filter(enrolment=OuterRef("pk"), **state))
        )

    return {
        "enrolled": count_of(in_cohort),
        "submitted": count_of(with_attempt(status=Assessment.Status.SUBMITTED)),
        "achieved": count_of(with_attempt(result=Assessment.Result.ACHIEVED)),
    }


class Cohort(models.Model):
    """A group of candidates who are enrolled and followed together (an intake, a class)."""

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    candidates = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="cohorts",
        blank=True,
        limit_choices_to={"role": "candidate"},
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CohortQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return object_url("assessments:cohort_detail", self.pk)


class EnrolmentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Candidates see their own, assessors the ones assigned to them, administrators all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_administrator:
            return self
        if user.is_assessor:
            return self.filter(assessor=user)
        return self.filter(candidate=user)

    def overdue(self, today):
        """Active enrolments past their due date and not yet achieved, most overdue first."""
        return (
            self.filter(due_date__lt=today, status=Enrolment.Status.ACTIVE)
            .exclude(assessments__result=Assessment.Result.ACHIEVED)
            .order_by("due_date", "pk")
        )


class Enrolment(models.Model):
    """A candidate enrolled in one unit, with the assessor who will judge their evidence."""

    class Status(models.TextChoices):
        # Anything but active closes the enrolment to new submissions. Withdrawal,
        # RPL and credit transfer are recorded by an administrator with a reason
        # (assessments.enrolment_status), each change kept in EnrolmentStatusChange.
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"
        RPL_GRANTED = "rpl_granted", "RPL granted"
        RPL_NOT_GRANTED = "rpl_not_granted", "RPL not granted"
        CREDIT_TRANSFER = "credit_transfer", "Credit transfer"

    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="enrolments",
        limit_choices_to={"role": "candidate"},
    )
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="enrolments")
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assessor_enrolments",
        limit_choices_to={"role": "assessor"},
    )
    cohort = models.ForeignKey(
        Cohort, on_delete=models.SET_NULL, null=True, blank=True, related_name="enrolments"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    due_date = models.DateField(null=True, blank=True)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    objects = EnrolmentQuerySet.as_manager()

    class Meta:
        ordering = ["-enrolled_at", "pk"]
        indexes = [
            models.Index(fields=["enrolled_at"], name="enrolment_enrolled_at"),
            models.Index(fields=["due_date"], name="enrolment_due_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "unit"], name="one_enrolment_per_candidate_and_unit"
            ),
            # What an attempt's (enrolment, unit) refers to (Assessment.unit).
            models.UniqueConstraint(fields=["id", "unit"], name="enrolment_with_unit"),
        ]

    def __str__(self):
        return f"{self.candidate} in {self.unit.display_code}"

    def get_absolute_url(self):
        return object_url("assessments:enrolment_detail", self.pk)


class AssessmentQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_administrator:
            return self
        if user.is_assessor:
            # A moderator reviews other assessors' decisions sampled for them.
            moderated = ModerationSample.objects.moderated_by(user).filter(
                assessment=OuterRef("pk")
            )
            return self.filter(models.Q(enrolment__assessor=user) | Exists(moderated))
        return self.filter(enrolment__candidate=user)


class Assessment(models.Model):
    """One attempt at a unit: the candidate submits evidence, the assessor judges it.

    A "not yet" result opens the next attempt, up to ``ASSESSMENT_MAX_ATTEMPTS``.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Collecting evidence"
        SUBMITTED = "submitted", "Awaiting judgement"
        SIGNED_OFF = "signed_off", "Signed off"
        # An amendment of an earlier attempt to achieved made this attempt unnecessary.
        CLOSED = "closed", "Closed"

    FINISHED = [Status.SIGNED_OFF, Status.CLOSED]

    class Result(models.TextChoices):
        # Shown as Achieved / Not achieved (NZQA) or Competent / Not yet competent (AU).
        ACHIEVED = "achieved", "Achieved"
        NOT_ACHIEVED = "not_achieved", "Not achieved"

    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="assessments")
    # The enrolment's unit, repeated so that attempts awaiting judgement are counted per
    # unit from one index, without reading every enrolment (3–5 → 0.4 ms at 10,000
    # candidates). Set from the enrolment when the attempt is created; on PostgreSQL a
    # foreign key on (enrolment, unit) keeps the two equal (migration 0014).
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, related_name="+", editable=False, db_index=False
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    evidence = models.ManyToManyField("evidence.Evidence", related_name="assessments", blank=True)
    declaration = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=15, choices=Result.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["enrolment", "attempt"]
        # The queue: attempts awaiting judgement, oldest submission first; and those of an
        # assessor's enrolments, found from the enrolments without reading everyone's.
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="assessment_status_submitted"),
            models.Index(
                fields=["enrolment"],
                condition=models.Q(status="submitted"),
                name="assessment_awaiting_judgement",
            ),
            models.Index(
                fields=["unit"],
                condition=models.Q(status="submitted"),
                name="awaiting_judgement_by_unit",
            ),
            # Lists of samples, population members and sign-offs reach their candidates
            # through the attempt's enrolment: read from this index alone, not the table
            # (sorting a moderation population of ~2,300 by name: 3.3 → 2.5 ms at 10k).
            models.Index(fields=["id", "enrolment"], name="assessment_enrolment"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "attempt"], name="one_assessment_per_attempt"
            ),
            models.UniqueConstraint(
                fields=["enrolment"],
                condition=~models.Q(status__in=["signed_off", "closed"]),
                name="one_unfinished_attempt_per_enrolment",
            ),
            models.CheckConstraint(
                condition=models.Q(status="signed_off", result__in=["achieved", "not_achieved"])
                | (~models.Q(status="signed_off") & models.Q(result="")),
                name="result_only_when_signed_off",
            ),
        ]

    def __str__(self):
        return f"{self.enrolment}, attempt {self.attempt}"

    def save(self, *args, **kwargs):
        if self.unit_id is None:
            self.unit_id = self.enrolment.unit_id
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return object_url("assessments:assessment_detail", self.pk)

    @property
    def result_label(self):
        return self.enrolment.unit.result_label(self.result)


class Judgement(models.Model):
    """The assessor's judgement of one criterion in one attempt."""

    class Verdict(models.TextChoices):
        SATISFACTORY = "satisfactory", "Satisfactory"
        NOT_YET = "not_yet", "Not yet satisfactory"

    class Method(models.TextChoices):
        OBSERVATION = "observation", "Observation"
        QUESTIONING = "questioning", "Questioning"
        WRITTEN = "written", "Written"
        PORTFOLIO = "portfolio", "Portfolio"
        THIRD_PARTY = "third_party", "Third-party report"
        PRODUCT = "product", "Product"
        ROLE_PLAY = "role_play", "Role play"
        CASE_STUDY = "case_study", "Case study"

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="judgements")
    criterion = models.ForeignKey(
        "standards.PerformanceCriterion", on_delete=models.PROTECT, related_name="judgements"
    )
    verdict = models.CharField(max_length=15, choices=Verdict.choices, blank=True)
    methods = models.JSONField(default=list, blank=True)
    range_items = models.ManyToManyField(
        "standards.RangeItem", blank=True, related_name="+", through="JudgementRangeItem"
    )
    # The rules of evidence (Standards for RTOs): the assessor confirms each.
    valid = models.BooleanField(default=False)
    sufficient = models.BooleanField(default=False)
    authentic = models.BooleanField(default=False)
    current = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    carried_forward = models.BooleanField(
        default=False, help_text="Satisfactory in an earlier attempt and carried into this one."
    )
    version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["assessment", "criterion__sort_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "criterion"], name="judge_each_criterion_once"
            ),
        ]

    def __str__(self):
        return f"{self.criterion.number}: {self.get_verdict_display() or 'not judged'}"

    @property
    def method_labels(self):
        return [self.Method(value).label for value in self.methods]


class JudgementRangeItem(models.Model):
    """A range item a judgement records as covered.

    PROTECT: deleting the item from the catalogue would silently rewrite what
    the assessor recorded. The table is the one Django made for the plain
    many-to-many field before, so no row moved.
    """

    judgement = models.ForeignKey(Judgement, on_delete=models.CASCADE)
    rangeitem = models.ForeignKey("standards.RangeItem", on_delete=models.PROTECT)

    class Meta:
        db_table = "assessments_judgement_range_items"
        # As Django made it for the plain many-to-many table (same index).
        unique_together = [("judgement", "rangeitem")]

    def __str__(self):
        return f"{self.judgement_id} covers {self.rangeitem_id}"


class AppendOnlyError(ValueError):
    """An attempt to change or delete a row of history."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.verbose_name} records are append-only.")

    def delete(self):
        raise AppendOnlyError(f"{self.model._meta.verbose_name} records are append-only.")


class AppendOnly(models.Model):
    """Rows that record history: written once, never changed or deleted.

    Refused here, before the database is reached, and again by the database's
    own triggers (``assessments/append_only.py``) for anything that bypasses
    the ORM.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError(f"{self._meta.verbose_name} records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name} records are append-only.")


class SignOff(AppendOnly):
    """The assessor's signed decision. One per attempt, enforced by the database."""

    assessment = models.OneToOneField(Assessment, on_delete=models.PROTECT, related_name="sign_off")
    result = models.CharField(max_length=15, choices=Assessment.Result.choices)
    feedback = models.TextField(blank=True)
    declaration = models.TextField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField()

    class Meta:
        # Recent decisions on the dashboards; moderation populations by period.
        indexes = [models.Index(fields=["signed_at"], name="signoff_signed_at")]

    def __str__(self):
        return f"Sign-off of {self.assessment}"

    @property
    def result_label(self):
        """The result as signed, in the unit's words (an amendment may have changed it since)."""
        return self.assessment.enrolment.unit.result_label(self.result)


class Amendment(AppendOnly):
    """A correction of a signed-off result: appended with a reason, never overwriting it."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="amendments")
    previous_result = models.CharField(max_length=15, choices=Assessment.Result.choices)
    new_result = models.CharField(max_length=15, choices=Assessment.Result.choices)
    reason = models.TextField()
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    amended_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["amended_at", "pk"]

    def __str__(self):
        return f"Amendment of {self.assessment}"


class EnrolmentStatusChange(AppendOnly):
    """A withdrawal, RPL or credit-transfer decision (or a reinstatement), with its reason."""

    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.PROTECT, related_name="status_changes"
    )
    previous_status = models.CharField(max_length=20, choices=Enrolment.Status.choices)
    new_status = models.CharField(max_length=20, choices=Enrolment.Status.choices)
    effective_date = models.DateField(help_text="The day it took effect (e.g. the withdrawal).")
    reason = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(previous_status=models.F("new_status")),
                name="status_change_changes_status",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="status_change_has_reason"),
        ]

    def __str__(self):
        return f"{self.enrolment}: {self.get_new_status_display()} from {self.effective_date}"


class AuditEntry(AppendOnly):
    """Every change to an attempt: who, when (UTC), before and after.

    The entries of one attempt form a hash chain (``sequence`` 1, 2, …; each
    ``hash`` covers the previous entry's hash and this entry's content), so a
    changed, removed or inserted entry is detected by ``manage.py verify_audit``.
    Write entries only with ``assessments.audit.append``.
    """

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="audit")
    sequence = models.PositiveIntegerField()
    judgement = models.ForeignKey(
        Judgement, on_delete=models.PROTECT, null=True, blank=True, related_name="audit"
    )
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["assessment_id", "sequence"]
        verbose_name_plural = "audit entries"
        constraints = [
            # Two writers appending to one chain at once cannot both take the same place.
            models.UniqueConstraint(
                fields=["assessment", "sequence"], name="one_audit_entry_per_chain_position"
            ),
        ]

    def __str__(self):
        return f"{self.action} by {self.actor} at {self.at:%Y-%m-%d %H:%M}"


class CohortEnrolment(models.Model):
    """A request to enrol a whole cohort in a unit, carried out by the task worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Enrolling"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="enrolment_requests")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.QUEUED)
    enrolled = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]

    def __str__(self):
        return f"Enrolment of {self.cohort} in {self.unit.display_code}"

    @property
    def is_finished(self):
        return self.status in {self.Status.DONE, self.Status.FAILED}


# --- moderation ---


class ModerationRoundQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Moderation rounds are run by administrators; nobody else sees them."""
        if user.is_authenticated and user.is_administrator:
            return self
        return self.none()


class ModerationRound(models.Model):
    """Moderation of one unit's signed-off decisions over a period.

    The population (attempts signed off in the period) is recorded when the
    round is created, so a rule-drawn sample can be reproduced from the seed.
    """

    class Selection(models.TextChoices):
        RULE = "rule", "Drawn by rule"
        HAND = "hand", "Picked by hand"

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="moderation_rounds")
    name = models.CharField(max_length=150)
    period_start = models.DateField()
    period_end = models.DateField()
    minimum_per_assessor = models.PositiveSmallIntegerField(
        help_text="Sample at least this many of each assessor's decisions."
    )
    percent_per_assessor = models.PositiveSmallIntegerField(
        help_text="…or this percentage of them, whichever is larger."
    )
    population = models.ManyToManyField(Assessment, related_name="+", blank=True)
    # How many of the population each assessor signed off ({assessor pk: count}), recorded
    # with the population and as fixed as it: the round's pages show them beside the
    # sample, and counting them again through the sign-offs cost ~2.5 ms a page at 10k.
    population_by_assessor = models.JSONField(default=dict, editable=False)
    selection = models.CharField(max_length=4, choices=Selection.choices, blank=True)
    seed = models.PositiveIntegerField(null=True, blank=True)
    sampled_at = models.DateTimeField(null=True, blank=True)
    sampled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModerationRoundQuerySet.as_manager()

    class Meta:
        ordering = ["-period_end", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="moderation_period_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(percent_per_assessor__lte=100),
                name="moderation_percent_at_most_100",
            ),
            models.CheckConstraint(
                condition=models.Q(selection="", sampled_at__isnull=True, seed__isnull=True)
                | models.Q(selection="hand", sampled_at__isnull=False, seed__isnull=True)
                | models.Q(selection="rule", sampled_at__isnull=False, seed__isnull=False),
                name="moderation_rule_sample_records_seed",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.unit.display_code})"

    def get_absolute_url(self):
        return object_url("moderation:round_detail", self.pk)

    @property
    def is_sampled(self):
        return self.sampled_at is not None

    @property
    def population_size(self):
        return sum(self.population_by_assessor.values())


class ModerationSampleQuerySet(models.QuerySet):
    def moderated_by(self, user):
        if not (user.is_authenticated and user.is_moderator):
            return self.none()
        return self.filter(moderator=user)

    def decided_by(self, user):
        return self.filter(assessor=user) if user.is_authenticated else self.none()


class ModerationSample(models.Model):
    """One sampled attempt and the moderator who reviews it.

    ``assessor`` is who signed the decision off, copied here so the database
    itself can refuse them as its moderator.
    """

    round = models.ForeignKey(ModerationRound, on_delete=models.PROTECT, related_name="samples")
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, related_name="moderation_samples"
    )
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="moderation_samples"
    )
    # The result as it stood when sampled: later amendments do not rewrite what was moderated.
    result = models.CharField(max_length=15, choices=Assessment.Result.choices)
    assigned_at = models.DateTimeField()

    objects = ModerationSampleQuerySet.as_manager()

    class Meta:
        ordering = ["round_id", "assessment_id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "assessment"], name="sample_attempt_once"),
            models.CheckConstraint(
                condition=~models.Q(moderator=models.F("assessor")),
                name="moderator_is_not_the_assessor",
            ),
        ]

    def __str__(self):
        return f"{self.assessment} in {self.round.name}"

    def get_absolute_url(self):
        return object_url("moderation:review", self.pk)

    @property
    def result_label(self):
        return self.round.unit.result_label(self.result)

    @property
    def is_reviewed(self):
        # For templates: a missing review raises there, and a template's failed lookup
        # costs ~35 µs (~1.6 ms for a page of 50 samples).
        return hasattr(self, "review")


class ModerationReview(AppendOnly):
    """The moderator's final review of one sampled attempt. It never changes the result."""

    sample = models.OneToOneField(ModerationSample, on_delete=models.PROTECT, related_name="review")
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    agrees_with_result = models.BooleanField()
    recommendation = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(agrees_with_result=True) | ~models.Q(recommendation=""),
                name="disagreement_with_result_has_recommendation",
            ),
        ]

    def __str__(self):
        return f"Moderation of {self.sample.assessment}"

    @property
    def verdict_label(self):
        return "Agrees with the result" if self.agrees_with_result else "Disagrees with the result"


class ModeratedCriterion(AppendOnly):
    """The moderator's view of one of the assessor's criterion judgements."""

    review = models.ForeignKey(ModerationReview, on_delete=models.PROTECT, related_name="criteria")
    judgement = models.ForeignKey(Judgement, on_delete=models.PROTECT, related_name="moderations")
    agrees = models.BooleanField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["review_id", "judgement__criterion__sort_key"]
        verbose_name_plural = "moderated criteria"
        constraints = [
            models.UniqueConstraint(
                fields=["review", "judgement"], name="moderate_each_judgement_once"
            ),
            models.CheckConstraint(
                condition=models.Q(agrees=True) | ~models.Q(reason=""),
                name="disagreement_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.judgement.criterion.number}: {'agrees' if self.agrees else 'disagrees'}"


class ModerationTally(models.Model):
    """How many of an assessor's judgements of one criterion a round's moderators
    verified, of how many they moderated: the round summary's figures.

    Added to as each review is recorded (``moderation.submit_review``), so that the
    summary does not read every moderated criterion's judgement again on each view;
    reviews are final, so the figures only grow. The reviews remain the record: a
    tally is what they add up to (tests/test_moderation.py recounts it).
    """

    round = models.ForeignKey(ModerationRound, on_delete=models.PROTECT, related_name="tallies")
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    criterion = models.ForeignKey(PerformanceCriterion, on_delete=models.PROTECT, related_name="+")
    verified = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round", "assessor", "criterion"], name="tally_each_criterion_once"
            ),
            models.CheckConstraint(
                condition=models.Q(verified__lte=models.F("total")),
                name="tally_verified_at_most_total",
            ),
        ]

    def __str__(self):
        return f"{self.verified} of {self.total}"


class AssessorResponse(AppendOnly):
    """The assessor's reply to a moderation review; each reply is kept with its time."""

    review = models.ForeignKey(ModerationReview, on_delete=models.PROTECT, related_name="responses")
    text = models.TextField()
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    responded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["responded_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(text=""), name="response_has_text"),
        ]

    def __str__(self):
        return f"Response by {self.responded_by} at {self.responded_at:%Y-%m-%d %H:%M}"


class ModerationExport(models.Model):
    """A moderation report built in the background, tracked here whatever the task backend."""

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        CSV = "csv", "CSV (spreadsheet)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being built"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    round = models.ForeignKey(ModerationRound, on_delete=models.PROTECT, related_name="exports")
    format = models.CharField(max_length=3, choices=Format.choices)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.QUEUED)
    file = models.FileField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched by the task while it builds: a stale heartbeat means its worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="done") | ~models.Q(file=""),
                name="finished_export_has_file",
            ),
        ]

    def __str__(self):
        return f"{self.get_format_display()} report of {self.round}"

    @property
    def is_finished(self):
        return self.status in {self.Status.DONE, self.Status.FAILED}
