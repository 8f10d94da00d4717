"""Releases that enrolments use, and the only way their wording changes.

A unit release (code + version) that an enrolment uses is frozen: judgements,
evidence mappings and signed records point at its criteria and range items.
Its structure (which outcomes, criteria, range statements and items exist,
how they are numbered, which criteria a range applies to and how much of it
must be covered) never changes; a changed unit is imported as a new version.
Its wording may be corrected, row by row, keeping every id, and each
correction is logged (who, when, before, after, why) in CatalogueCorrection.
"""

import logging
from dataclasses import dataclass

from django.db import transaction

from .models import CatalogueCorrection, EvidenceGuide, Unit
from .validation import DATE_FIELDS, GUIDE_FIELDS, TAIL_TEXT_FIELDS, TEXT_FIELDS, UnitDataError

audit_log = logging.getLogger("assessment_portal.audit")

# Framework, level and credits say what a result is worth; they are structure.
STRUCTURAL_HEADER_FIELDS = ["framework", "level", "credits"]
WORDING_HEADER_FIELDS = (
    ["title"] + TEXT_FIELDS + ["criteria_intro", "range_intro"] + DATE_FIELDS + TAIL_TEXT_FIELDS
)
MAX_CHANGES_NAMED = 8


@dataclass
class Change:
    """One field of one row whose wording would change."""

    part: str
    row: object
    field: str
    after: object

    @property
    def before(self):
        return getattr(self.row, self.field)


def _as_text(value):
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _quote(text):
    return f"“{text if len(text) <= 40 else text[:39] + '…'}”"


def _statement_part(position, criterion_numbers):
    return f"range statement {position}" + (
        f" (of {', '.join(criterion_numbers)})" if criterion_numbers else ""
    )


def wording_parts(unit):
    """Every (part, row, field) of a release whose text may be corrected, in page order.

    ``unit`` comes from ``Unit.objects.with_structure()``.
    """
    for field in WORDING_HEADER_FIELDS:
        if field not in DATE_FIELDS:
            yield "unit", unit, field
    for note in unit.explanatory_notes.all():
        yield f"explanatory note {note.number}", note, "text"
    for outcome in unit.outcomes.all():
        yield f"{unit.outcome_label.lower()} {outcome.number}", outcome, "title"
        for criterion in outcome.criteria.all():
            yield f"criterion {criterion.number}", criterion, "text"
    for position, statement in enumerate(unit.range_statements.all(), 1):
        part = _statement_part(position, sorted(c.number for c in statement.criteria.all()))
        for field in ("term", "wording", "note"):
            yield part, statement, field
        for item_position, item in enumerate(statement.items.all(), 1):
            yield f"{part}, item {item_position}", item, "text"
    guide = getattr(unit, "evidence_guide", None)
    if guide is not None:
        for field in GUIDE_FIELDS:
            yield "evidence guide", guide, field


def _compare_numbered(kind, old, new, structural):
    """Compare {number: row} with {number: values}; name what is added or removed."""
    for number in sorted(set(new) - set(old)):
        structural.append(f"add {kind} {number}")
    for number in sorted(set(old) - set(new)):
        structural.append(f"remove {kind} {number}")
    return [number for number in new if number in old]


def _compare_ranges(unit, clean, structural, wording):
    old_statements = list(unit.range_statements.all())
    new_statements = clean["range_statements"]
    if len(new_statements) != len(old_statements):
        structural.append(
            f"have {len(new_statements)} range statements instead of {len(old_statements)}"
        )
        return
    for position, (row, new) in enumerate(zip(old_statements, new_statements, strict=True), 1):
        old_criteria = sorted(c.number for c in row.criteria.all())
        part = _statement_part(position, old_criteria)
        if row.coverage != new["coverage"] or row.minimum != new["minimum"]:
            structural.append(
                f"change how much of {part} must be covered "
                f"({row.get_coverage_display().lower()} → "
                f"{dict(row.Coverage.choices)[new['coverage']].lower()})"
            )
        if old_criteria != sorted(new["criteria"]):
            structural.append(
                f"apply {part} to criteria {', '.join(sorted(new['criteria'])) or 'none'} "
                f"instead of {', '.join(old_criteria) or 'none'}"
            )
        items = list(row.items.all())
        if len(items) != len(new["items"]):
            removed = [i.text for i in items if i.text not in new["items"]]
            added = [t for t in new["items"] if t not in {i.text for i in items}]
            detail = "; ".join(
                [f"removed {', '.join(map(_quote, removed))}"] * bool(removed)
                + [f"added {', '.join(map(_quote, added))}"] * bool(added)
            )
            structural.append(
                f"give {part} {len(new['items'])} items instead of {len(items)}"
                + (f" ({detail})" if detail else "")
            )
            continue
        for field in ("term", "wording", "note"):
            if getattr(row, field) != new[field]:
                wording.append(Change(part, row, field, new[field]))
        for item_position, (item, text) in enumerate(zip(items, new["items"], strict=True), 1):
            if item.text != text:
                wording.append(Change(f"{part}, item {item_position}", item, "text", text))


def compare_release(unit, clean):
    """What importing ``clean`` over ``unit`` would change: (structural, wording).

    ``structural`` is a list of phrases naming each change of structure;
    ``wording`` a list of Change, one per corrected field of a kept row.
    """
    unit = Unit.objects.with_structure().get(pk=unit.pk)
    structural, wording = [], []
    for field in STRUCTURAL_HEADER_FIELDS:
        if getattr(unit, field) != clean[field]:
            structural.append(f"change the {field} from {getattr(unit, field)} to {clean[field]}")
    for field in WORDING_HEADER_FIELDS:
        if getattr(unit, field) != clean[field]:
            wording.append(Change("unit", unit, field, clean[field]))

    notes = {note.number: note for note in unit.explanatory_notes.all()}
    new_notes = {note["number"]: note for note in clean["explanatory_notes"]}
    for number in _compare_numbered("explanatory note", notes, new_notes, structural):
        if notes[number].text != new_notes[number]["text"]:
            wording.append(
                Change(
                    f"explanatory note {number}", notes[number], "text", new_notes[number]["text"]
                )
            )

    outcomes = {outcome.number: outcome for outcome in unit.outcomes.all()}
    new_outcomes = {outcome["number"]: outcome for outcome in clean["outcomes"]}
    label = unit.outcome_label.lower()
    for number in _compare_numbered(label, outcomes, new_outcomes, structural):
        outcome, new = outcomes[number], new_outcomes[number]
        if outcome.title != new["title"]:
            wording.append(Change(f"{label} {number}", outcome, "title", new["title"]))
        criteria = {criterion.number: criterion for criterion in outcome.criteria.all()}
        new_criteria = {criterion["number"]: criterion for criterion in new["criteria"]}
        for cnumber in _compare_numbered("criterion", criteria, new_criteria, structural):
            if criteria[cnumber].text != new_criteria[cnumber]["text"]:
                wording.append(
                    Change(
                        f"criterion {cnumber}",
                        criteria[cnumber],
                        "text",
                        new_criteria[cnumber]["text"],
                    )
                )

    _compare_ranges(unit, clean, structural, wording)

    guide = getattr(unit, "evidence_guide", None) or EvidenceGuide(unit=unit)
    for field in GUIDE_FIELDS:
        if getattr(guide, field) != clean["evidence_guide"][field]:
            wording.append(Change("evidence guide", guide, field, clean["evidence_guide"][field]))
    return structural, wording


@transaction.atomic
def correct_wording(unit, changes, *, reason, by):
    """Apply wording changes to a release in place and log each one.

    Every row keeps its id, so what judgements and mappings point at is the
    same criterion or item, now worded as corrected. Returns the corrections.
    """
    reason = (reason or "").strip()
    if not reason:
        raise UnitDataError("a catalogue correction needs a reason")
    if by is None or not by.is_active or not by.is_administrator:
        raise UnitDataError(
            f"catalogue corrections are made by an active administrator, not {by or 'nobody'}"
        )
    corrections = []
    for change in changes:
        before = _as_text(change.before)
        setattr(change.row, change.field, change.after)
        change.row.save()
        corrections.append(
            CatalogueCorrection.objects.create(
                unit=unit,
                part=change.part,
                model=change.row._meta.model_name,
                object_id=change.row.pk,
                field=change.field,
                before=before,
                after=_as_text(change.after),
                reason=reason,
                corrected_by=by,
            )
        )
        audit_log.info(
            "catalogue corrected: unit=%s part=%r field=%s by=%s",
            unit.pk,
            change.part,
            change.field,
            by.pk,
        )
    return corrections


def _named(phrases):
    shown = phrases[:MAX_CHANGES_NAMED]
    more = len(phrases) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more else "")


def update_used_release(unit, clean, *, correction_reason="", corrected_by=None):
    """Import over a release that enrolments use: wording corrections only.

    Returns the list of corrections made (empty when nothing changed).
    """
    structural, wording = compare_release(unit, clean)
    enrolments = unit.enrolments.count()
    in_use = f"{unit.release_label} is used by {enrolments} enrolment{'s' * (enrolments != 1)}"
    if structural:
        latest = max(
            int(v) for v in Unit.objects.filter(code=unit.code).values_list("version", flat=True)
        )
        raise UnitDataError(
            f"{in_use}, so its structure cannot change. This file would {_named(structural)}. "
            f'Import the new text as a new version (e.g. "version": "{latest + 1}"); '
            "existing enrolments stay on the release they were made in"
        )
    if wording and not correction_reason:
        parts = list(dict.fromkeys(f"{c.part} {c.field}" for c in wording))
        raise UnitDataError(
            f"{in_use}; this file changes the wording of {_named(parts)}. "
            "The wording of a used release changes only as a logged catalogue correction: "
            'run import_unit again with --correction "why" --by USERNAME'
        )
    return (
        correct_wording(unit, wording, reason=correction_reason, by=corrected_by) if wording else []
    )
