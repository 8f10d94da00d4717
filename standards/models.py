"""The published units that candidates are assessed against.

A unit is transcribed word for word from its source document; the portal
never paraphrases it. NZQA unit standards and Australian units of competency
share one structure, and only their labels differ (see the ``*_label``
properties): outcome/element, evidence requirement/performance criterion.
"""

import re

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Cast
from django.db.models.signals import m2m_changed, pre_delete
from django.dispatch import receiver
from django.urls import reverse

# Parts of up to three digits keep the natural sort key below its 60 characters.
NUMBER_PATTERN = re.compile(r"^\d{1,3}(\.\d{1,3})*$")
# Codes appear in URLs and file names: letters, digits, and "-" or "." inside.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,18}[A-Za-z0-9])?$")
# NZQA versions and AU release numbers are whole numbers.
VERSION_PATTERN = re.compile(r"^[1-9]\d{0,3}$")


def natural_sort_key(number):
    """'1.10' sorts after '1.9' when the key is compared as text."""
    return ".".join(f"{int(part):04d}" for part in number.split("."))


class Numbered(models.Model):
    """A numbered part of a unit ("1", "1.2"), kept in natural order."""

    number = models.CharField(max_length=10)
    sort_key = models.CharField(max_length=60, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.sort_key = natural_sort_key(self.number)
        super().save(*args, **kwargs)


def _version_number(field="version"):
    return Cast(field, models.PositiveIntegerField())


class UnitQuerySet(models.QuerySet):
    def with_release_status(self):
        """Annotate ``is_current``: not withdrawn, and no later release of the code is live."""
        later = Unit.objects.annotate(number=_version_number()).filter(
            code=OuterRef("code"), withdrawn=False, number__gt=_version_number(OuterRef("version"))
        )
        return self.annotate(
            version_number=_version_number(),
            is_current=models.Q(withdrawn=False) & ~Exists(later),
        )

    def current(self):
        """The releases new enrolments take: the latest live version of each code."""
        return self.with_release_status().filter(is_current=True)

    def with_structure(self):
        """Everything the unit page shows, in a fixed number of queries."""
        return self.select_related("evidence_guide").prefetch_related(
            "explanatory_notes",
            models.Prefetch(
                "outcomes__criteria",
                queryset=PerformanceCriterion.objects.prefetch_related("range_statements__items"),
            ),
            models.Prefetch(
                "range_statements",
                queryset=RangeStatement.objects.prefetch_related("items", "criteria"),
            ),
        )


class Unit(models.Model):
    class Framework(models.TextChoices):
        NZQA = "nzqa", "NZQA unit standard"
        AU = "au", "AU unit of competency"

    framework = models.CharField(max_length=10, choices=Framework.choices)
    code = models.CharField(
        max_length=20,
        validators=[RegexValidator(CODE_PATTERN, "Letters and digits, with - or . inside.")],
    )
    version = models.CharField(
        max_length=20,
        validators=[RegexValidator(VERSION_PATTERN, "A whole number from 1 to 9999.")],
        help_text="NZQA version, or AU release number.",
    )
    title = models.CharField(max_length=255)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    credits = models.PositiveSmallIntegerField(null=True, blank=True)
    purpose = models.TextField(blank=True, help_text="NZQA purpose, or AU unit descriptor.")
    application = models.TextField(blank=True)
    classification = models.CharField(
        max_length=255, blank=True, help_text="NZQA classification, or AU competency field."
    )
    sector = models.CharField(max_length=255, blank=True)
    available_grade = models.CharField(max_length=100, blank=True)
    prerequisites = models.TextField(blank=True)
    corequisites = models.TextField(blank=True)
    licensing = models.TextField(blank=True)
    modification_history = models.TextField(blank=True)
    employability_skills = models.TextField(blank=True)
    training_package = models.CharField(max_length=255, blank=True)
    criteria_intro = models.TextField(blank=True)
    range_intro = models.TextField(blank=True)
    registration_date = models.DateField(null=True, blank=True)
    version_date = models.DateField(null=True, blank=True)
    planned_review_date = models.DateField(null=True, blank=True)
    amap_reference = models.CharField("AMAP reference", max_length=20, blank=True)
    publication_notes = models.TextField(blank=True)
    transcription_note = models.TextField(
        blank=True, help_text="Gaps and repairs in the source text, recorded when transcribed."
    )
    withdrawn = models.BooleanField(
        default=False,
        help_text="A withdrawn release is never offered for new enrolments; "
        "the latest release that is not withdrawn is the current one.",
    )

    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["framework", "code", "version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="unique_unit_release"),
        ]

    def __str__(self):
        return f"{self.display_code} {self.title}"

    def get_absolute_url(self):
        """The page of this release; /standards/<code>/ shows whichever is current."""
        return reverse("standards:unit_release", args=[self.code, self.version])

    @property
    def release_label(self):
        return f"{self.display_code} {self.version_label.lower()} {self.version}"

    @property
    def is_used(self):
        """A release any enrolment uses is frozen: its structure never changes again.

        Enrolments (assessments app) point at the release they were made in;
        the reverse relation is read here so the rule lives with the catalogue.
        """
        return self.enrolments.exists()

    @property
    def is_nzqa(self):
        return self.framework == self.Framework.NZQA

    @property
    def display_code(self):
        return f"US{self.code}" if self.is_nzqa else self.code

    @property
    def version_label(self):
        return "Version" if self.is_nzqa else "Release"

    @property
    def outcome_label(self):
        return "Outcome" if self.is_nzqa else "Element"

    @property
    def criterion_label(self):
        return "Evidence requirement" if self.is_nzqa else "Performance criterion"

    @property
    def achieved_label(self):
        return "Achieved" if self.is_nzqa else "Competent"

    @property
    def not_achieved_label(self):
        return "Not achieved" if self.is_nzqa else "Not yet competent"

    def result_label(self, result):
        """How this unit names a result: "achieved" or "not_achieved" (Assessment.Result)."""
        return {"achieved": self.achieved_label, "not_achieved": self.not_achieved_label}.get(
            result, ""
        )

    @property
    def unit_wide_range_statements(self):
        """AU range statements apply to the whole unit; NZQA ranges sit under a criterion."""
        return [] if self.is_nzqa else list(self.range_statements.all())


class ExplanatoryNote(Numbered):
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="explanatory_notes")
    text = models.TextField()

    class Meta:
        ordering = ["unit", "sort_key"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "number"], name="unique_note_number"),
        ]

    def __str__(self):
        return f"Note {self.number}"


class Outcome(Numbered):
    """An NZQA outcome, or an AU element of competency."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="outcomes")
    title = models.TextField()

    class Meta:
        ordering = ["unit", "sort_key"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "number"], name="unique_outcome_number"),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"


class PerformanceCriterion(Numbered):
    """An AU performance criterion, or an NZQA evidence requirement."""

    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="criteria")
    text = models.TextField()

    class Meta:
        ordering = ["outcome__unit", "sort_key"]
        verbose_name_plural = "performance criteria"
        constraints = [
            models.UniqueConstraint(fields=["outcome", "number"], name="unique_criterion_number"),
        ]

    def __str__(self):
        return f"{self.number} {self.text}"

    def text_segments(self):
        """The text split into (words, range statement or None) for highlighting.

        AU range terms are printed bold italic in the published unit; the
        portal marks the same words and links them to the unit-wide range.
        """
        statements = [rs for rs in self.range_statements.all() if rs.term]
        if not statements:
            return [(self.text, None)]
        by_term = {rs.term.lower(): rs for rs in statements}
        pattern = re.compile(
            r"\b("
            + "|".join(re.escape(t) for t in sorted(by_term, key=len, reverse=True))
            + r")\b",
            re.IGNORECASE,
        )
        segments, last = [], 0
        for match in pattern.finditer(self.text):
            if match.start() > last:
                segments.append((self.text[last : match.start()], None))
            segments.append((match.group(0), by_term[match.group(0).lower()]))
            last = match.end()
        if last < len(self.text):
            segments.append((self.text[last:], None))
        return segments


class RangeStatement(models.Model):
    """What a criterion's evidence must (or may) cover.

    The wording decides the coverage rule: an unqualified list or "includes
    but is not limited to" requires every item; "any two of" sets a minimum;
    "may include", "may be", "e.g." give examples only.
    """

    class Coverage(models.TextChoices):
        ALL = "all", "Every item must be covered"
        MINIMUM = "minimum", "A minimum number of items must be covered"
        EXAMPLES = "examples", "Examples only"

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="range_statements")
    position = models.PositiveSmallIntegerField()
    term = models.CharField(
        max_length=255, blank=True, help_text="The criterion wording the range explains (AU)."
    )
    wording = models.TextField(help_text="The lead-in exactly as published.")
    coverage = models.CharField(max_length=10, choices=Coverage.choices)
    minimum = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="What the source lost, if anything.")
    criteria = models.ManyToManyField(PerformanceCriterion, related_name="range_statements")

    class Meta:
        ordering = ["unit", "position"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "position"], name="unique_range_position"),
            models.CheckConstraint(
                condition=(
                    models.Q(coverage="minimum", minimum__gte=1)
                    | (~models.Q(coverage="minimum") & models.Q(minimum__isnull=True))
                ),
                name="range_minimum_only_with_minimum_coverage",
            ),
        ]

    def __str__(self):
        return self.term or self.wording

    @property
    def anchor(self):
        return f"range-{self.position}"

    @property
    def required_count(self):
        """How many items evidence must cover for the criterion to be satisfactory."""
        if self.coverage == self.Coverage.ALL:
            return len(self.items.all())
        if self.coverage == self.Coverage.MINIMUM:
            return self.minimum
        return 0


class RangeItem(models.Model):
    range_statement = models.ForeignKey(
        RangeStatement, on_delete=models.CASCADE, related_name="items"
    )
    position = models.PositiveSmallIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ["range_statement", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["range_statement", "position"], name="unique_range_item_position"
            ),
        ]

    def __str__(self):
        return self.text


class EvidenceGuide(models.Model):
    """The AU evidence guide, with required skills and knowledge."""

    unit = models.OneToOneField(Unit, on_delete=models.CASCADE, related_name="evidence_guide")
    overview = models.TextField(blank=True)
    required_skills = models.TextField(blank=True)
    required_knowledge = models.TextField(blank=True)
    critical_aspects = models.TextField(blank=True)
    context_and_resources = models.TextField(blank=True)
    assessment_methods = models.TextField(blank=True)
    guidance = models.TextField(blank=True)

    SECTIONS = [
        ("required_skills", "Required skills"),
        ("required_knowledge", "Required knowledge"),
        ("critical_aspects", "Critical aspects for assessment"),
        ("context_and_resources", "Context of and specific resources for assessment"),
        ("assessment_methods", "Method of assessment"),
        ("guidance", "Guidance information for assessment"),
    ]

    def __str__(self):
        return f"Evidence guide for {self.unit.code}"

    def sections(self):
        return [
            (label, getattr(self, name)) for name, label in self.SECTIONS if getattr(self, name)
        ]

    @property
    def is_empty(self):
        return not self.overview and not self.sections()


class CatalogueCorrectionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ReleaseFrozen("Catalogue corrections are never changed; record a new one.")

    def delete(self):
        raise ReleaseFrozen("Catalogue corrections are never deleted.")


class CatalogueCorrection(models.Model):
    """One logged change of wording in a release that enrolments use.

    The row keeps its id, so judgements and mappings still point at it; the
    correction says who changed what, when, from what, to what, and why.
    Corrections are only ever added.
    """

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="corrections")
    part = models.CharField(max_length=100, help_text='What was corrected, e.g. "criterion 1.2".')
    model = models.CharField(max_length=50)
    object_id = models.PositiveIntegerField(help_text="The corrected row's id, which it keeps.")
    field = models.CharField(max_length=50)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    reason = models.TextField()
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    corrected_at = models.DateTimeField(auto_now_add=True)

    objects = CatalogueCorrectionQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "corrected_at", "pk"]

    def __str__(self):
        return f"{self.unit.release_label}: {self.part} {self.field}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ReleaseFrozen("Catalogue corrections are never changed; record a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ReleaseFrozen("Catalogue corrections are never deleted.")


# --- used releases are frozen -------------------------------------------------


class ReleaseFrozen(models.ProtectedError):
    """A change would restructure a unit release that enrolments use."""

    def __init__(self, message, protected_objects=()):
        super().__init__(message, set(protected_objects))


def _units_of(instance):
    """The release a numbered part, range item or guide belongs to, as a queryset."""
    if isinstance(instance, PerformanceCriterion):
        return Unit.objects.filter(outcomes__pk=instance.outcome_id)
    if isinstance(instance, RangeItem):
        return Unit.objects.filter(range_statements__pk=instance.range_statement_id)
    return Unit.objects.filter(pk=instance.unit_id)


@receiver(pre_delete, sender=Outcome)
@receiver(pre_delete, sender=PerformanceCriterion)
@receiver(pre_delete, sender=RangeStatement)
@receiver(pre_delete, sender=RangeItem)
@receiver(pre_delete, sender=ExplanatoryNote)
@receiver(pre_delete, sender=EvidenceGuide)
def refuse_deleting_part_of_used_release(sender, instance, **kwargs):
    """The last line behind the admin and import_unit: shell deletes and cascades too."""
    unit = _units_of(instance).first()
    if unit is not None and unit.is_used:
        raise ReleaseFrozen(
            f"{unit.release_label} is used by enrolments, so its "
            f"{sender._meta.verbose_name} “{instance}” cannot be deleted; "
            "import the changed unit as a new version instead.",
            [instance],
        )


@receiver(m2m_changed, sender=RangeStatement.criteria.through)
def refuse_relinking_ranges_of_used_release(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in {"pre_add", "pre_remove", "pre_clear"} or (
        action != "pre_clear" and not pk_set
    ):
        return
    # Reversed, the instance is a criterion and pk_set holds range statements.
    units = _units_of(instance) if reverse else Unit.objects.filter(pk=instance.unit_id)
    for unit in units:
        if unit.is_used:
            raise ReleaseFrozen(
                f"{unit.release_label} is used by enrolments, so which criteria its range "
                "statements apply to cannot change; import a new version instead."
            )
