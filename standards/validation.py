"""Checking a unit document before anything is written.

Unit files come from outside the portal, so every value is checked for its
type, characters, length and range, and every error names the field at fault
(``outcomes[1].criteria[0].number: ...``). A document that passes can be
stored on SQLite and PostgreSQL and shown on every page.
"""

import datetime
import json
import unicodedata

from .models import (
    CODE_PATTERN,
    NUMBER_PATTERN,
    VERSION_PATTERN,
    EvidenceGuide,
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

# Bounds far above any published unit (the largest fixture is 18 kB with 14
# criteria and 59 range items) and far below what could hurt the server.
MAX_FILE_BYTES = 1_000_000
MAX_TEXT_CHARS = 20_000
MAX_OUTCOMES = 100
MAX_CRITERIA_PER_OUTCOME = 100
MAX_NOTES = 100
MAX_RANGE_STATEMENTS = 500
MAX_RANGE_ITEMS = 200
LEVELS = range(1, 11)  # NZQF and AQF levels
CREDITS = range(0, 1000)

UNIT_KEYS = (
    ["framework", "code", "version", "title", "level", "credits"]
    + TEXT_FIELDS
    + ["explanatory_notes", "criteria_intro", "range_intro"]
    + DATE_FIELDS
    + TAIL_TEXT_FIELDS
    + ["outcomes", "range_statements", "evidence_guide"]
)


class UnitDataError(ValueError):
    """The unit JSON is not valid; the message names the field at fault."""


def parse_unit_json(raw):
    """Bytes of a unit file to Python data, refusing what ``json`` would choke on."""
    if len(raw) > MAX_FILE_BYTES:
        raise UnitDataError(
            f"the file is larger than {MAX_FILE_BYTES:,} bytes, the most a unit file may hold"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnitDataError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None

    def refuse_constant(name):
        raise UnitDataError(f"not valid JSON ({name} is not a JSON number)")

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        raise UnitDataError(f"not valid JSON ({error})") from None
    except RecursionError:
        raise UnitDataError("not a unit: the JSON is nested far deeper than a unit") from None
    except ValueError as error:  # e.g. an integer of thousands of digits
        raise UnitDataError(f"not valid JSON ({error})") from None


def _show(value):
    """A short rendering of a bad value for an error message."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    shown = json.dumps(value, ensure_ascii=True)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _check_characters(text, where, *, multiline):
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if (category == "Cc" and not (multiline and char in "\n\t")) or category == "Cs":
            raise UnitDataError(
                f"{where}: contains the control character U+{ord(char):04X} at position "
                f"{position + 1}{'' if multiline else ' (this field is one line)'}"
            )


def check_text(text, where, *, max_length=None):
    """Characters and length of one text value; ``max_length`` means a one-line field."""
    limit = max_length or MAX_TEXT_CHARS
    if len(text) > limit:
        raise UnitDataError(f"{where}: {len(text):,} characters; at most {limit:,} are allowed")
    _check_characters(text, where, multiline=max_length is None)
    return text


def _max_length(model, name):
    return model._meta.get_field(name).max_length


def _require(mapping, key, kind, where, *, nullable=False, non_empty=False, max_length=None):
    if not isinstance(mapping, dict):
        raise UnitDataError(f"{where.rstrip('.') or 'the document'}: expected an object")
    if key not in mapping:
        raise UnitDataError(f"{where}{key}: missing")
    value = mapping[key]
    if value is None and nullable:
        return None
    # bool is an int in Python; a level of `true` is still wrong.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = {str: "text", int: "a whole number", list: "a list", dict: "an object"}[kind]
        raise UnitDataError(f"{where}{key}: expected {expected}, got {_show(value)}")
    if kind is str:
        check_text(value, f"{where}{key}", max_length=max_length)
    if non_empty and (value.strip() if isinstance(value, str) else value) in ("", [], {}):
        raise UnitDataError(f"{where}{key}: must not be empty")
    return value


def _require_list(mapping, key, where, *, limit, non_empty=False):
    values = _require(mapping, key, list, where, non_empty=non_empty)
    if len(values) > limit:
        raise UnitDataError(f"{where}{key}: {len(values):,} entries; at most {limit} are allowed")
    return values


def _only_known_keys(mapping, keys, where):
    if not isinstance(mapping, dict):
        raise UnitDataError(f"{where.rstrip('.') or 'the document'}: expected an object")
    for key in mapping:
        if key not in keys:
            raise UnitDataError(f"{where}{_show(key)}: not a field of this part of a unit")


def _number(mapping, where, *, parent=None):
    number = _require(mapping, "number", str, where, non_empty=True, max_length=10)
    if not NUMBER_PATTERN.match(number):
        raise UnitDataError(
            f"{where}number: {number!r} is not a number such as 1 or 1.2 "
            "(parts of one to three digits)"
        )
    if parent is not None and not number.startswith(parent + "."):
        raise UnitDataError(f"{where}number: {number!r} does not belong under {parent!r}")
    return number


def _validate_header(data, clean):
    framework = _require(data, "framework", str, "", max_length=10)
    if framework not in Unit.Framework.values:
        raise UnitDataError(
            f"framework: {framework!r} is not one of {', '.join(Unit.Framework.values)}"
        )
    clean["framework"] = framework
    code = _require(data, "code", str, "", non_empty=True, max_length=_max_length(Unit, "code"))
    clean["code"] = code.strip()
    if not CODE_PATTERN.match(clean["code"]):
        raise UnitDataError(
            f"code: {clean['code']!r} is not a unit code: use letters and digits, "
            "with - or . only between them"
        )
    version = _require(data, "version", str, "", non_empty=True, max_length=20).strip()
    if not VERSION_PATTERN.match(version):
        raise UnitDataError(f"version: {version!r} is not a whole number from 1 to 9999")
    clean["version"] = version
    title = _require(data, "title", str, "", non_empty=True, max_length=_max_length(Unit, "title"))
    clean["title"] = title.strip()
    for key, allowed in (("level", LEVELS), ("credits", CREDITS)):
        value = _require(data, key, int, "", nullable=True)
        if value is not None and value not in allowed:
            raise UnitDataError(f"{key}: {value} is not from {allowed.start} to {allowed.stop - 1}")
        clean[key] = value
    for key in TEXT_FIELDS + ["criteria_intro", "range_intro"] + TAIL_TEXT_FIELDS:
        clean[key] = _require(data, key, str, "", max_length=_max_length(Unit, key))
    for key in DATE_FIELDS:
        value = _require(data, key, str, "", nullable=True, max_length=10)
        try:
            clean[key] = datetime.date.fromisoformat(value) if value else None
        except ValueError:
            raise UnitDataError(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from None


def _validate_outcomes(data):
    outcomes, criterion_numbers, outcome_numbers = [], set(), set()
    for i, outcome in enumerate(
        _require_list(data, "outcomes", "", limit=MAX_OUTCOMES, non_empty=True)
    ):
        where = f"outcomes[{i}]."
        _only_known_keys(outcome, {"number", "title", "criteria"}, where)
        number = _number(outcome, where)
        if number in outcome_numbers:
            raise UnitDataError(f"{where}number: {number!r} appears twice")
        outcome_numbers.add(number)
        criteria = []
        for j, criterion in enumerate(
            _require_list(
                outcome, "criteria", where, limit=MAX_CRITERIA_PER_OUTCOME, non_empty=True
            )
        ):
            cwhere = f"{where}criteria[{j}]."
            _only_known_keys(criterion, {"number", "text"}, cwhere)
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
        outcomes.append(
            {
                "number": number,
                "title": _require(outcome, "title", str, where, non_empty=True),
                "criteria": criteria,
            }
        )
    return outcomes, criterion_numbers


def _validate_range_statement(statement, where, criterion_numbers):
    _only_known_keys(
        statement,
        {"term", "wording", "coverage", "minimum", "items", "criteria", "note"},
        where,
    )
    coverage = _require(statement, "coverage", str, where, max_length=10)
    if coverage not in RangeStatement.Coverage.values:
        raise UnitDataError(
            f"{where}coverage: {coverage!r} is not one of "
            f"{', '.join(RangeStatement.Coverage.values)}"
        )
    items = _require_list(statement, "items", where, limit=MAX_RANGE_ITEMS)
    for j, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise UnitDataError(f"{where}items[{j}]: expected non-empty text, got {_show(item)}")
        check_text(item, f"{where}items[{j}]")
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
    criteria = _require_list(statement, "criteria", where, limit=MAX_CRITERIA_PER_OUTCOME)
    for j, number in enumerate(criteria):
        if not isinstance(number, str) or number not in criterion_numbers:
            raise UnitDataError(f"{where}criteria: {_show(number)} is not a criterion of this unit")
        if number in criteria[:j]:
            raise UnitDataError(f"{where}criteria: {number!r} appears twice")
    return {
        "term": _require(
            statement, "term", str, where, max_length=_max_length(RangeStatement, "term")
        ),
        "wording": _require(statement, "wording", str, where, non_empty=True),
        "coverage": coverage,
        "minimum": minimum,
        "items": items,
        "criteria": criteria,
        "note": _require(statement, "note", str, where),
    }


def validate_unit_data(data):
    """Check the whole document before anything is written; return a clean copy."""
    if not isinstance(data, dict):
        raise UnitDataError("the file must hold one JSON object describing a unit")
    _only_known_keys(data, UNIT_KEYS, "")
    clean = {}
    _validate_header(data, clean)

    clean["explanatory_notes"] = []
    seen = set()
    for i, note in enumerate(_require_list(data, "explanatory_notes", "", limit=MAX_NOTES)):
        where = f"explanatory_notes[{i}]."
        _only_known_keys(note, {"number", "text"}, where)
        number = _number(note, where)
        if number in seen:
            raise UnitDataError(f"{where}number: {number!r} appears twice")
        seen.add(number)
        clean["explanatory_notes"].append(
            {"number": number, "text": _require(note, "text", str, where, non_empty=True)}
        )

    clean["outcomes"], criterion_numbers = _validate_outcomes(data)
    clean["range_statements"] = [
        _validate_range_statement(statement, f"range_statements[{i}].", criterion_numbers)
        for i, statement in enumerate(
            _require_list(data, "range_statements", "", limit=MAX_RANGE_STATEMENTS)
        )
    ]

    guide = _require(data, "evidence_guide", dict, "")
    _only_known_keys(guide, GUIDE_FIELDS, "evidence_guide.")
    clean["evidence_guide"] = {
        name: _require(guide, name, str, "evidence_guide.") for name in GUIDE_FIELDS
    }
    return clean
