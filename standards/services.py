"""Import and export of units as JSON.

The JSON files in fixtures/units/ are exactly what ``export_unit`` prints, so
a unit loaded from a fixture and exported again comes back byte for byte.
"""

import datetime
import json

from django.db import transaction

from .models import (
    NUMBER_PATTERN,
    EvidenceGuide,
    ExplanatoryNote,
    Outcome,
    PerformanceCriterion,
    RangeItem,
    RangeStatement,
    Unit,
)

TEXT_FIELDS = [
    "purpose",
    "application",
    "classification",
    "sector",
    "available_grade",
    "prerequisites",
    "corequisites",
    "licensing",
    "modification_history",
    "employability_skills",
    "training_package",
]
TAIL_TEXT_FIELDS = ["amap_reference", "publication_notes", "transcription_note"]
DATE_FIELDS = ["registration_date", "version_date", "planned_review_date"]
GUIDE_FIELDS = ["overview"] + [name for name, _label in EvidenceGuide.SECTIONS]


class UnitDataError(ValueError):
    """The unit JSON is not valid; the message names the field at fault."""


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


# --- validation -------------------------------------------------------------


def _require(mapping, key, kind, where, *, nullable=False, non_empty=False):
    if not isinstance(mapping, dict):
        raise UnitDataError(f"{where}: expected an object")
    if key not in mapping:
        raise UnitDataError(f"{where}{key}: missing")
    value = mapping[key]
    if value is None and nullable:
        return None
    # bool is an int in Python; a level of `true` is still wrong.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = {str: "text", int: "a whole number", list: "a list", dict: "an object"}[kind]
        raise UnitDataError(f"{where}{key}: expected {expected}, got {json.dumps(value)}")
    if non_empty and (value.strip() if isinstance(value, str) else value) in ("", [], {}):
        raise UnitDataError(f"{where}{key}: must not be empty")
    return value


def _number(mapping, where, *, parent=None):
    number = _require(mapping, "number", str, where, non_empty=True)
    if not NUMBER_PATTERN.match(number):
        raise UnitDataError(f"{where}number: {number!r} is not a number such as 1 or 1.2")
    if parent is not None and not number.startswith(parent + "."):
        raise UnitDataError(f"{where}number: {number!r} does not belong under {parent!r}")
    return number


def validate_unit_data(data):
    """Check the whole document before anything is written; return a clean copy."""
    if not isinstance(data, dict):
        raise UnitDataError("the file must hold one JSON object describing a unit")
    clean = {}
    framework = _require(data, "framework", str, "")
    if framework not in Unit.Framework.values:
        raise UnitDataError(
            f"framework: {framework!r} is not one of {', '.join(Unit.Framework.values)}"
        )
    clean["framework"] = framework
    for key in ("code", "version", "title"):
        clean[key] = _require(data, key, str, "", non_empty=True).strip()
    for key in ("level", "credits"):
        value = _require(data, key, int, "", nullable=True)
        if value is not None and value < 0:
            raise UnitDataError(f"{key}: must not be negative")
        clean[key] = value
    for key in TEXT_FIELDS + ["criteria_intro", "range_intro"] + TAIL_TEXT_FIELDS:
        clean[key] = _require(data, key, str, "")
    for key in DATE_FIELDS:
        value = _require(data, key, str, "", nullable=True)
        try:
            clean[key] = datetime.date.fromisoformat(value) if value else None
        except ValueError:
            raise UnitDataError(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from None

    clean["explanatory_notes"] = []
    seen = set()
    for i, note in enumerate(_require(data, "explanatory_notes", list, "")):
        where = f"explanatory_notes[{i}]."
        number = _number(note, where)
        if number in seen:
            raise UnitDataError(f"{where}number: {number!r} appears twice")
        seen.add(number)
        clean["explanatory_notes"].append(
            {"number": number, "text": _require(note, "text", str, where, non_empty=True)}
        )

    clean["outcomes"] = []
    criterion_numbers = set()
    outcome_numbers = set()
    for i, outcome in enumerate(_require(data, "outcomes", list, "", non_empty=True)):
        where = f"outcomes[{i}]."
        number = _number(outcome, where)
        if number in outcome_numbers:
            raise UnitDataError(f"{where}number: {number!r} appears twice")
        outcome_numbers.add(number)
        criteria = []
        for j, criterion in enumerate(_require(outcome, "criteria", list, where, non_empty=True)):
            cwhere = f"{where}criteria[{j}]."
            cnumber = _number(criterion, cwhere, parent=number)
            if cnumber in criterion_numbers:
                raise UnitDataError(f"{cwhere}number: {cnumber!r} appears twice")
            criterion_numbers.add(cnumber)
            criteria.append(
                {
                    "number": cnumber,
                    "text": _require(criterion, "text", str, cwhere, non_empty=True),
                }
            )
        clean["outcomes"].append(
            {
                "number": number,
                "title": _require(outcome, "title", str, where, non_empty=True),
                "criteria": criteria,
            }
        )

    clean["range_statements"] = []
    for i, statement in enumerate(_require(data, "range_statements", list, "")):
        where = f"range_statements[{i}]."
        coverage = _require(statement, "coverage", str, where)
        if coverage not in RangeStatement.Coverage.values:
            raise UnitDataError(
                f"{where}coverage: {coverage!r} is not one of "
                f"{', '.join(RangeStatement.Coverage.values)}"
            )
        items = _require(statement, "items", list, where)
        for j, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise UnitDataError(f"{where}items[{j}]: expected non-empty text")
        minimum = _require(statement, "minimum", int, where, nullable=True)
        if coverage == RangeStatement.Coverage.MINIMUM:
            if minimum is None or not 1 <= minimum <= len(items):
                raise UnitDataError(
                    f"{where}minimum: coverage 'minimum' needs a minimum from 1 to "
                    f"{len(items)} (the number of items)"
                )
        elif minimum is not None:
            raise UnitDataError(f"{where}minimum: only coverage 'minimum' takes a minimum")
        if coverage == RangeStatement.Coverage.ALL and not items:
            raise UnitDataError(f"{where}items: coverage 'all' needs at least one item")
        criteria = _require(statement, "criteria", list, where)
        for number in criteria:
            if number not in criterion_numbers:
                raise UnitDataError(
                    f"{where}criteria: {json.dumps(number)} is not a criterion of this unit"
                )
        clean["range_statements"].append(
            {
                "term": _require(statement, "term", str, where),
                "wording": _require(statement, "wording", str, where, non_empty=True),
                "coverage": coverage,
                "minimum": minimum,
                "items": items,
                "criteria": criteria,
                "note": _require(statement, "note", str, where),
            }
        )

    guide = _require(data, "evidence_guide", dict, "")
    clean["evidence_guide"] = {
        name: _require(guide, name, str, "evidence_guide.") for name in GUIDE_FIELDS
    }
    return clean


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
def import_unit(data):
    """Create or update a unit from its JSON; all or nothing. Returns (unit, created)."""
    clean = validate_unit_data(data)
    scalar = {
        key: value
        for key, value in clean.items()
        if key not in {"explanatory_notes", "outcomes", "range_statements", "evidence_guide"}
    }
    unit, created = Unit.objects.update_or_create(code=clean["code"], defaults=scalar)

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


def import_unit_file(path):
    """Read and import one unit file, naming the file in any error."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise UnitDataError(f"{path}: cannot be read ({error.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnitDataError(f"{path}: not valid JSON ({error})") from None
    try:
        return import_unit(data)
    except UnitDataError as error:
        raise UnitDataError(f"{path}: {error}") from None
