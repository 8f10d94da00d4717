"""Import and export of units as JSON.

The JSON files in fixtures/units/ are exactly what ``export_unit`` prints, so
a unit loaded from a fixture and exported again comes back byte for byte.
"""

import json

from django.db import transaction

from .models import (
    EvidenceGuide,
    ExplanatoryNote,
    Outcome,
    PerformanceCriterion,
    RangeItem,
    RangeStatement,
    Unit,
)
from .releases import update_used_release
from .validation import (
    DATE_FIELDS,
    GUIDE_FIELDS,
    MAX_FILE_BYTES,
    TAIL_TEXT_FIELDS,
    TEXT_FIELDS,
    UnitDataError,
    parse_unit_json,
    validate_unit_data,
)

__all__ = ["UnitDataError", "export_unit", "import_unit", "import_unit_file", "unit_to_json"]


def export_unit(unit):
    """The unit as a dict whose key order is the published JSON layout."""
    unit = Unit.objects.with_structure().get(pk=unit.pk)
    guide = getattr(unit, "evidence_guide", None)
    data = {
        "framework": unit.framework,
        "code": unit.code,
        "version": unit.version,
        "title": unit.title,
        "level": unit.level,
        "credits": unit.credits,
        **{name: getattr(unit, name) for name in TEXT_FIELDS},
        "explanatory_notes": [
            {"number": note.number, "text": note.text} for note in unit.explanatory_notes.all()
        ],
        "criteria_intro": unit.criteria_intro,
        "range_intro": unit.range_intro,
        **{
            name: getattr(unit, name).isoformat() if getattr(unit, name) else None
            for name in DATE_FIELDS
        },
        **{name: getattr(unit, name) for name in TAIL_TEXT_FIELDS},
        "outcomes": [
            {
                "number": outcome.number,
                "title": outcome.title,
                "criteria": [
                    {"number": criterion.number, "text": criterion.text}
                    for criterion in outcome.criteria.all()
                ],
            }
            for outcome in unit.outcomes.all()
        ],
        "range_statements": [
            {
                "term": statement.term,
                "wording": statement.wording,
                "coverage": statement.coverage,
                "minimum": statement.minimum,
                "items": [item.text for item in statement.items.all()],
                "criteria": sorted(
                    (c.number for c in statement.criteria.all()),
                    key=lambda number: [int(p) for p in number.split(".")],
                ),
                "note": statement.note,
            }
            for statement in unit.range_statements.all()
        ],
        "evidence_guide": {name: getattr(guide, name) if guide else "" for name in GUIDE_FIELDS},
    }
    return data


def unit_to_json(unit):
    return json.dumps(export_unit(unit), indent=2, ensure_ascii=False) + "\n"


# --- import -----------------------------------------------------------------


def _sync_by_key(existing, wanted, key, create, update):
    """Update rows that match by key, create the new ones, delete the rest.

    Rows are updated in place rather than replaced, so judgements that point
    at a criterion keep pointing at it when the unit's wording is corrected.
    """
    current = {getattr(row, key): row for row in existing}
    kept = []
    for values in wanted:
        row = current.pop(values[key], None)
        kept.append(update(row, values) if row else create(values))
    for row in current.values():
        row.delete()
    return kept


def _set_fields(row, values):
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


@transaction.atomic
def import_unit(data, *, correction_reason="", corrected_by=None):
    """Create or update a unit release from its JSON; all or nothing. Returns (unit, created).

    A new version of a code is a new release beside the old ones. A release
    no enrolment uses yet is updated in place; one in use only takes wording
    corrections, and only with a reason (see standards.releases).
    """
    clean = validate_unit_data(data)
    existing = (
        Unit.objects.select_for_update()
        .filter(code=clean["code"], version=clean["version"])
        .first()
    )
    if existing is not None and existing.is_used:
        update_used_release(
            existing, clean, correction_reason=correction_reason, corrected_by=corrected_by
        )
        return existing, False
    scalar = {
        key: value
        for key, value in clean.items()
        if key not in {"explanatory_notes", "outcomes", "range_statements", "evidence_guide"}
    }
    unit, created = Unit.objects.update_or_create(
        code=clean["code"], version=clean["version"], defaults=scalar
    )

    _sync_by_key(
        unit.explanatory_notes.all(),
        clean["explanatory_notes"],
        "number",
        lambda v: ExplanatoryNote.objects.create(unit=unit, **v),
        _set_fields,
    )

    outcomes = _sync_by_key(
        unit.outcomes.all(),
        [{"number": o["number"], "title": o["title"]} for o in clean["outcomes"]],
        "number",
        lambda v: Outcome.objects.create(unit=unit, **v),
        _set_fields,
    )
    criteria_by_number = {}
    for outcome, outcome_values in zip(outcomes, clean["outcomes"], strict=True):
        for criterion in _sync_by_key(
            outcome.criteria.all(),
            outcome_values["criteria"],
            "number",
            lambda v, outcome=outcome: PerformanceCriterion.objects.create(outcome=outcome, **v),
            _set_fields,
        ):
            criteria_by_number[criterion.number] = criterion

    positioned = [
        {**statement, "position": position}
        for position, statement in enumerate(clean["range_statements"], start=1)
    ]

    def save_statement(row, values):
        fields = {k: v for k, v in values.items() if k not in {"items", "criteria"}}
        row = (
            _set_fields(row, fields) if row else RangeStatement.objects.create(unit=unit, **fields)
        )
        _sync_by_key(
            row.items.all(),
            [{"position": p, "text": t} for p, t in enumerate(values["items"], start=1)],
            "position",
            lambda v: RangeItem.objects.create(range_statement=row, **v),
            _set_fields,
        )
        row.criteria.set([criteria_by_number[n] for n in values["criteria"]])
        return row

    _sync_by_key(
        unit.range_statements.all(),
        positioned,
        "position",
        lambda v: save_statement(None, v),
        save_statement,
    )
    EvidenceGuide.objects.update_or_create(unit=unit, defaults=clean["evidence_guide"])
    return unit, created


def import_unit_file(path, **correction):
    """Read and import one unit file, naming the file in any error."""
    try:
        with open(path, "rb") as handle:
            # One byte over the limit is enough to refuse; a huge file is never read whole.
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise UnitDataError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        return import_unit(parse_unit_json(raw), **correction)
    except UnitDataError as error:
        raise UnitDataError(f"{path}: {error}") from None
