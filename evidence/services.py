"""Domain rules for the evidence portfolio.

Views call these; each write is atomic and raises ``ValidationError`` with a
message for the user (``PermissionDenied`` for the wrong actor) when a rule is
broken, leaving the database and the stored files unchanged.

Submitted evidence is locked (``Evidence.is_locked``): it cannot be edited or
deleted, and its files and mappings cannot be removed. Its mappings to the
criteria of a unit it was submitted for are frozen for good (no new criterion
of that unit, no changed range items), so the marking page shows exactly what
the candidate claimed when they submitted. Mapping a locked item to criteria of
another unit is allowed, so evidence judged for one unit can still be used
holistically for another.

Items an assessor recorded (observation, questioning, third-party report) are
theirs: the candidate cannot edit, delete or unmap them, or change their
mappings, and they go into every submission of a unit they are mapped to.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from assessment_portal.stored_files import delete_quietly, save_new
from assessments.models import Assessment, Enrolment
from standards.models import Outcome, PerformanceCriterion

from .models import Evidence, EvidenceFile, EvidenceMapping
from .upload_handlers import max_upload_bytes
from .uploads import UploadRejected, check_upload, storage_name

audit_log = logging.getLogger("assessment_portal.audit")
log = logging.getLogger(__name__)

Kind = Evidence.Kind
CANDIDATE_KINDS = {Kind.FILE, Kind.WRITTEN}
# Assessor records may carry attachments, e.g. a signed third-party report or an observation
# checklist; a written answer is its text alone.
KINDS_WITH_FILES = {Kind.FILE, *Evidence.ASSESSOR_KINDS}
MAX_FILES_PER_UPLOAD = 10

# The fields each kind of item has, and those it cannot do without.
KIND_FIELDS = {
    Kind.FILE: ["title", "description", "occurred_on"],
    Kind.WRITTEN: ["title", "description", "text"],
    Kind.OBSERVATION: ["title", "occurred_on", "description", "text"],
    Kind.QUESTIONING: ["title", "occurred_on", "description", "text"],
    Kind.THIRD_PARTY: [
        "title",
        "third_party_name",
        "third_party_role",
        "third_party_contact",
        "occurred_on",
        "text",
        "description",
    ],
}
REQUIRED_FIELDS = {
    Kind.FILE: {"title"},
    Kind.WRITTEN: {"title", "text"},
    Kind.OBSERVATION: {"title", "occurred_on", "text"},
    Kind.QUESTIONING: {"title", "occurred_on", "text"},
    Kind.THIRD_PARTY: {
        "title",
        "third_party_name",
        "third_party_role",
        "third_party_contact",
        "text",
    },
}
MULTILINE_FIELDS = {"description", "text"}

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029]")


class FilesRejected(ValidationError):
    """One or more uploaded files broke a rule; nothing was saved."""


class StorageFailed(ValidationError):
    """The file store failed while saving; nothing was kept."""

    def __init__(self):
        super().__init__(
            "The files could not be stored: the server's file storage failed. Nothing was "
            "saved. Try again; if it happens again, tell the system administrator."
        )


class EvidenceLocked(ValidationError):
    """The item has been submitted for assessment and can no longer be changed."""

    def __init__(self, evidence):
        super().__init__(
            f"“{evidence}” has been submitted for assessment and is locked: it can no longer "
            "be edited or deleted, and its files and mappings cannot be removed."
        )


class AssessorRecord(ValidationError):
    """The item is the assessor's record of the candidate: the candidate cannot change it."""

    def __init__(self, evidence):
        super().__init__(
            f"“{evidence}” is a {evidence.get_kind_display().lower()} made by your assessor "
            f"{evidence.recorded_by}: only they can unmap, edit or delete it, and it goes into "
            "your submission for every unit it is mapped to."
        )


# --- text -----------------------------------------------------------------------------


def sanitise_text(value, *, multiline=True):
    """Return ``value`` as plain text fit to store; pages escape it when they show it.

    Control characters other than newline and tab are dropped (they can garble a page
    or an export, and PostgreSQL refuses NUL), every kind of line break becomes "\\n",
    and single-line fields get a space instead.
    """
    value = _NEWLINES.sub("\n", value or "")
    value = "".join(char for char in value if char in "\n\t" or unicodedata.category(char) != "Cc")
    if not multiline:
        value = re.sub(r"[\n\t]", " ", value)
    return value.strip()


# --- who may do what ----------------------------------------------------------------


def candidates_assessed_by(assessor):
    """Candidates the assessor may record evidence for: those in their active enrolments."""
    return (
        get_user_model()
        .objects.filter(
            enrolments__assessor=assessor,
            enrolments__status=Enrolment.Status.ACTIVE,
            is_active=True,
        )
        .distinct()
    )


def allowed_kinds(user):
    if user.is_candidate:
        return CANDIDATE_KINDS
    if user.is_assessor:
        return Evidence.ASSESSOR_KINDS
    return set()


def can_change(user, evidence):
    """Only the person who recorded an item may edit it, delete it or change its files."""
    return user.pk == evidence.recorded_by_id


def can_map(user, evidence):
    """The candidate maps their evidence; an assessor may map the records they made."""
    return user.pk in (evidence.candidate_id, evidence.recorded_by_id)


def recorded_by_assessor(evidence):
    return evidence.kind in Evidence.ASSESSOR_KINDS and evidence.recorded_by_id != (
        evidence.candidate_id
    )


def can_unmap(user, evidence):
    """Who may remove or change existing mappings: the candidate only of what they recorded."""
    if recorded_by_assessor(evidence):
        return user.pk == evidence.recorded_by_id
    return can_map(user, evidence)


def submitted_units(evidence):
    """The units whose attempts ``evidence`` was submitted in: its mappings to them are frozen."""
    return set(evidence.assessments.values_list("enrolment__unit_id", flat=True))


def mappable_enrolments(user, candidate):
    """The active enrolments whose criteria ``user`` may map ``candidate``'s evidence to."""
    return Enrolment.objects.visible_to(user).filter(
        candidate=candidate, status=Enrolment.Status.ACTIVE
    )


# --- creating and changing items ---------------------------------------------------------


def _lock_portfolio(candidate):
    """Queue behind (or ahead of) any submission of the candidate's evidence.

    ``submit_for_assessment`` locks the attempt's row before it adds the evidence;
    taking the same row locks here means a change and a submission cannot interleave,
    so the lock state read afterwards is the one that holds until this commits.
    """
    list(
        Assessment.objects.select_for_update(of=("self",))
        .filter(enrolment__candidate=candidate)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _reread(evidence):
    """The item as it is once the candidate's portfolio is locked, with its lock state."""
    _lock_portfolio(evidence.candidate_id)
    return Evidence.objects.with_lock_state().get(pk=evidence.pk)


def _unlocked(evidence, *, by, action):
    current = _reread(evidence)
    if current.is_locked:
        audit_log.info("refused, locked: %s evidence=%s by=%s", action, evidence.pk, by.pk)
        raise EvidenceLocked(current)
    return current


def _clean_fields(kind, data):
    """The item's fields from ``data``, sanitised, with the kind's required ones checked."""
    values = {
        name: data.get(name)
        if name == "occurred_on"
        else sanitise_text(data.get(name), multiline=name in MULTILINE_FIELDS)
        for name in KIND_FIELDS[kind]
    }
    errors = {
        name: "This field is required."
        for name in REQUIRED_FIELDS[kind]
        if values[name] in ("", None)
    }
    occurred_on = values.get("occurred_on")
    if occurred_on and occurred_on > timezone.localdate():
        errors["occurred_on"] = "This date is in the future."
    if errors:
        raise ValidationError(errors)
    return values


def check_files(uploads):
    """Check every upload before any is stored; return their CheckedUploads.

    Raises FilesRejected naming each file and the rule it broke.
    """
    if len(uploads) > MAX_FILES_PER_UPLOAD:
        raise FilesRejected(f"Upload at most {MAX_FILES_PER_UPLOAD} files at a time.")
    checked, rejections = [], []
    limit = max_upload_bytes()
    for upload in uploads:
        try:
            checked.append(check_upload(upload, limit))
        except UploadRejected as rejected:
            rejections.append(rejected.message)
    if rejections:
        raise FilesRejected(rejections)
    return checked


def _store_files(evidence, uploads, checked, stored):
    """Save each file under a server-made name, appending its name to ``stored`` first thing,
    so the caller can remove what reached storage if the transaction fails."""
    for upload, accepted in zip(uploads, checked, strict=True):
        try:
            name = save_new(storage_name(accepted), upload)
        except OSError as error:
            log.exception("evidence file could not be stored: evidence=%s", evidence.pk)
            raise StorageFailed from error
        stored.append(name)
        EvidenceFile.objects.create(
            evidence=evidence,
            file=name,
            original_name=accepted.original_name,
            content_type=accepted.type.mime,
            size=accepted.size,
            sha256=accepted.sha256,
        )


def _write_with_files(write):
    """Run ``write(stored)`` in a transaction; if it fails, delete the files it stored.

    Durable, so the commit at its end is the real one: no outer transaction can roll
    back rows whose files were kept, or keep rows whose files were deleted.
    """
    stored = []
    try:
        with transaction.atomic(durable=True):
            write(stored)
    except BaseException:
        delete_quietly(stored)
        raise


def create_evidence_with_files(*, candidate, by, kind, data, uploads=()):
    """Create an evidence item of ``kind`` for ``candidate``, recorded by ``by``.

    Candidates record uploaded files and written answers for themselves; assessors
    record observations, questioning and third-party reports for candidates they
    assess. Every upload is checked before anything is written.
    """
    if kind not in allowed_kinds(by) or (by.is_candidate and candidate.pk != by.pk):
        raise PermissionDenied
    if by.is_assessor and not candidates_assessed_by(by).filter(pk=candidate.pk).exists():
        raise ValidationError(f"You do not assess {candidate}, so cannot record evidence for them.")
    evidence = Evidence(candidate=candidate, kind=kind, recorded_by=by, **_clean_fields(kind, data))
    evidence.full_clean()
    uploads = list(uploads)
    if uploads and kind not in KINDS_WITH_FILES:
        raise FilesRejected(f"A {evidence.get_kind_display().lower()} has no files.")
    if kind == Kind.FILE and not uploads:
        raise FilesRejected("Choose at least one file to upload.")
    checked = check_files(uploads)

    def write(stored):
        evidence.save()
        _store_files(evidence, uploads, checked, stored)

    _write_with_files(write)
    audit_log.info(
        "evidence created: evidence=%s kind=%s candidate=%s files=%s by=%s",
        evidence.pk,
        kind,
        candidate.pk,
        len(uploads),
        by.pk,
    )
    return evidence


def add_files(*, evidence, by, uploads):
    """Add files to an unlocked item; all are checked first, and all or none are stored."""
    if not can_change(by, evidence):
        raise PermissionDenied
    if evidence.kind not in KINDS_WITH_FILES:
        raise FilesRejected(f"A {evidence.get_kind_display().lower()} has no files.")
    uploads = list(uploads)
    if not uploads:
        raise FilesRejected("Choose at least one file to upload.")
    checked = check_files(uploads)

    def write(stored):
        current = _unlocked(evidence, by=by, action="add files")
        _store_files(current, uploads, checked, stored)
        # Adding files changes the item: its updated_at says when.
        current.save(update_fields=["updated_at"])

    _write_with_files(write)
    audit_log.info("files added: evidence=%s files=%s by=%s", evidence.pk, len(uploads), by.pk)


@transaction.atomic
def update_evidence(*, evidence, by, data):
    if not can_change(by, evidence):
        raise PermissionDenied
    current = _unlocked(evidence, by=by, action="edit")
    for name, value in _clean_fields(current.kind, data).items():
        setattr(current, name, value)
    current.full_clean()
    current.save()
    audit_log.info("evidence edited: evidence=%s by=%s", current.pk, by.pk)
    return current


@transaction.atomic
def delete_evidence(*, evidence, by):
    if not can_change(by, evidence):
        raise PermissionDenied
    current = _unlocked(evidence, by=by, action="delete")
    names = list(current.files.values_list("file", flat=True))
    current.files.all().delete()
    current.delete()
    # Only once the deletion is committed: a rollback must not leave rows without their files.
    transaction.on_commit(lambda: delete_quietly(names), robust=True)
    audit_log.info(
        "evidence deleted: evidence=%s candidate=%s files=%s by=%s",
        evidence.pk,
        evidence.candidate_id,
        len(names),
        by.pk,
    )


@transaction.atomic
def remove_file(*, evidence_file, by):
    evidence = evidence_file.evidence
    if not can_change(by, evidence):
        raise PermissionDenied
    current = _unlocked(evidence, by=by, action="remove file")
    if current.kind == Kind.FILE and current.files.count() == 1:
        raise ValidationError(
            "This is the item's only file. Upload its replacement first, or delete the item."
        )
    name = evidence_file.file.name
    evidence_file.delete()
    current.save(update_fields=["updated_at"])
    transaction.on_commit(lambda: delete_quietly([name]), robust=True)
    audit_log.info(
        "evidence file removed: evidence=%s file=%s by=%s", current.pk, evidence_file.pk, by.pk
    )


# --- mapping to criteria ------------------------------------------------------------------


@transaction.atomic
def map_evidence(*, evidence, by, criteria, note="", range_items=()):
    """Claim that the item shows each of ``criteria`` (of one or several units).

    Each mapping gets those of ``range_items`` that belong to its criterion's range.
    Mapping a criterion again replaces its note and range items, unless the item is
    locked. Returns the mappings made or changed.
    """
    if not can_map(by, evidence):
        raise PermissionDenied
    criteria = list(
        PerformanceCriterion.objects.filter(pk__in=[c.pk for c in criteria])
        .select_related("outcome__unit")
        .prefetch_related("range_statements")
    )
    if not criteria:
        raise ValidationError("Choose at least one criterion.")
    units = set(mappable_enrolments(by, evidence.candidate_id).values_list("unit_id", flat=True))
    outside = sorted(
        {c.outcome.unit.display_code for c in criteria if c.outcome.unit_id not in units}
    )
    if outside:
        codes = ", ".join(outside)
        if by.pk == evidence.candidate_id:
            raise ValidationError(
                f"Not mapped: you are not enrolled in {codes}. Map evidence only to criteria "
                "of units you are enrolled in."
            )
        raise ValidationError(f"Not mapped: you do not assess {evidence.candidate} in {codes}.")
    statements_of = {c.pk: {s.pk for s in c.range_statements.all()} for c in criteria}
    stray = [
        item.text
        for item in range_items
        if not any(item.range_statement_id in ids for ids in statements_of.values())
    ]
    if stray:
        raise ValidationError(
            f"These range items belong to none of the chosen criteria: {', '.join(stray)}."
        )
    note = sanitise_text(note)

    current = _reread(evidence)
    frozen = submitted_units(current)
    frozen_codes = sorted(
        {c.outcome.unit.display_code for c in criteria if c.outcome.unit_id in frozen}
    )
    if frozen_codes:
        codes = ", ".join(frozen_codes)
        audit_log.info("refused, frozen: map evidence=%s units=%s by=%s", current.pk, codes, by.pk)
        raise ValidationError(
            f"“{current}” has been submitted for assessment in {codes}, so its mappings to "
            f"the criteria of {codes} are frozen as the assessor received them: it cannot be "
            "mapped to further criteria of that unit, nor its range items changed. Add a new "
            "item for that unit instead; this one can still be mapped to other units."
        )
    existing = {m.criterion_id: m for m in current.mappings.all()}
    if not can_unmap(by, current):
        already = [c.number for c in criteria if c.pk in existing]
        if already:
            raise ValidationError(
                f"“{current}” was recorded by your assessor {current.recorded_by}, so only they "
                f"can change its mappings to {', '.join(already)}."
            )
    if current.is_locked:
        already = [c.number for c in criteria if c.pk in existing]
        if already:
            raise ValidationError(
                f"“{current}” has been submitted for assessment, so its mappings to "
                f"{', '.join(already)} cannot change. You can still map it to other criteria."
            )
    mappings = []
    for criterion in criteria:
        mapping = existing.get(criterion.pk) or EvidenceMapping(
            evidence=current, criterion=criterion
        )
        mapping.note = note
        mapping.save()
        mapping.range_items.set(
            [item for item in range_items if item.range_statement_id in statements_of[criterion.pk]]
        )
        mappings.append(mapping)
    audit_log.info(
        "evidence mapped: evidence=%s criteria=%s by=%s",
        current.pk,
        ",".join(str(c.pk) for c in criteria),
        by.pk,
    )
    return mappings


@transaction.atomic
def unmap_evidence(*, mapping, by):
    evidence = mapping.evidence
    if not can_map(by, evidence):
        raise PermissionDenied
    if not can_unmap(by, evidence):
        audit_log.info("refused, assessor's record: unmap evidence=%s by=%s", evidence.pk, by.pk)
        raise AssessorRecord(evidence)
    _unlocked(evidence, by=by, action="unmap")
    mapping.delete()
    audit_log.info(
        "evidence unmapped: evidence=%s criterion=%s by=%s",
        mapping.evidence_id,
        mapping.criterion_id,
        by.pk,
    )


# --- coverage of a unit ---------------------------------------------------------------


@dataclass
class RangeGap:
    """Range items of a criterion still to cover: ``needed`` more, chosen from ``missing``."""

    statement: object
    needed: int
    missing: list


@dataclass
class CriterionCoverage:
    criterion: object
    # One entry per item of Coverage.items: the mapping, or None where the item is not mapped.
    cells: list
    gaps: list = field(default_factory=list)

    @property
    def has_evidence(self):
        return any(self.cells)


@dataclass
class Coverage:
    """How a candidate's mapped evidence covers a unit's criteria and their ranges."""

    items: list
    outcomes: list  # (outcome, [CriterionCoverage]) in the unit's order

    @property
    def criteria(self):
        return [row for _, rows in self.outcomes for row in rows]

    @property
    def without_evidence(self):
        return [row for row in self.criteria if not row.has_evidence]

    @property
    def with_gaps(self):
        """Criteria with evidence whose range is not yet covered as its wording requires."""
        return [row for row in self.criteria if row.has_evidence and row.gaps]


def unit_coverage(candidate, unit):
    """The coverage table of ``unit`` by ``candidate``'s evidence, in a fixed number of queries."""
    outcomes = Outcome.objects.filter(unit=unit).prefetch_related(
        Prefetch(
            "criteria",
            queryset=PerformanceCriterion.objects.prefetch_related("range_statements__items"),
        )
    )
    mappings = (
        EvidenceMapping.objects.filter(evidence__candidate=candidate, criterion__outcome__unit=unit)
        .select_related("evidence")
        .prefetch_related("range_items")
        .order_by("evidence__created_at", "evidence_id")
    )
    by_criterion, items = {}, {}
    for mapping in mappings:
        by_criterion.setdefault(mapping.criterion_id, {})[mapping.evidence_id] = mapping
        items.setdefault(mapping.evidence_id, mapping.evidence)
    items = list(items.values())

    table = []
    for outcome in outcomes:
        rows = []
        for criterion in outcome.criteria.all():
            mapped = by_criterion.get(criterion.pk, {})
            claimed = {i.pk for m in mapped.values() for i in m.range_items.all()}
            rows.append(
                CriterionCoverage(
                    criterion=criterion,
                    cells=[mapped.get(item.pk) for item in items],
                    gaps=_range_gaps(criterion, claimed),
                )
            )
        table.append((outcome, rows))
    return Coverage(items=items, outcomes=table)


def _range_gaps(criterion, claimed):
    gaps = []
    for statement in criterion.range_statements.all():
        range_items = list(statement.items.all())
        covered = sum(1 for item in range_items if item.pk in claimed)
        if covered < statement.required_count:
            gaps.append(
                RangeGap(
                    statement=statement,
                    needed=statement.required_count - covered,
                    missing=[item for item in range_items if item.pk not in claimed],
                )
            )
    return gaps


def items_for_unit(candidate, unit):
    """The items a submission for ``unit`` includes: all the candidate's mapped to its criteria."""
    return (
        Evidence.objects.filter(candidate=candidate, mappings__criterion__outcome__unit=unit)
        .distinct()
        .with_lock_state()
    )
