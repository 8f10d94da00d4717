"""Hostile unit files get a clear error naming the field, and change nothing (finding 8)."""

import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from standards.models import Unit
from standards.services import UnitDataError, import_unit, import_unit_file, unit_to_json

from .test_standards_catalogue import fixture_json

pytestmark = pytest.mark.django_db


def us57(**changes):
    data = json.loads(fixture_json("57"))
    data["code"] = "58"  # a new unit, so a pass would create it
    data.update(changes)
    return data


def catalogue():
    return [unit_to_json(unit) for unit in Unit.objects.order_by("pk")]


def criterion(data, i=0, j=0):
    return data["outcomes"][i]["criteria"][j]


HOSTILE = [
    # characters
    (lambda d: d.update(code="EVIL/1"), "code: 'EVIL/1' is not a unit code"),
    (lambda d: d.update(code="../57"), "code: '../57' is not a unit code"),
    (lambda d: d.update(code="57 "), None),  # surrounding spaces are trimmed: accepted
    (lambda d: d.update(code="5\u00a07"), "code: '5\\xa07' is not a unit code"),
    (
        lambda d: d.update(title="Provide\x00 service"),
        "title: contains the control character U+0000",
    ),
    (lambda d: d.update(title="Two\nlines"), "title: contains the control character U+000A"),
    (
        lambda d: criterion(d).update(text="Nul \x00 byte"),
        "outcomes[0].criteria[0].text: contains the control character U+0000 at position 5",
    ),
    (
        lambda d: d["range_statements"][0]["items"].__setitem__(1, "bell\x07"),
        "range_statements[0].items[1]: contains the control character U+0007",
    ),
    (
        lambda d: d["evidence_guide"].update(overview="\ud800"),
        "evidence_guide.overview: contains the control character U+D800",
    ),
    (lambda d: d.update(purpose="esc \x1b[31m"), "purpose: contains the control character U+001B"),
    # lengths (the models' max_length, and a bound for long text)
    (lambda d: d.update(code="A" * 21), "code: 21 characters; at most 20 are allowed"),
    (lambda d: d.update(title="T" * 256), "title: 256 characters; at most 255 are allowed"),
    (lambda d: d.update(amap_reference="0" * 21), "amap_reference: 21 characters; at most 20"),
    (
        lambda d: d["range_statements"][0].update(term="t" * 256),
        "range_statements[0].term: 256 characters; at most 255",
    ),
    (lambda d: criterion(d).update(number="1.00001"), "outcomes[0].criteria[0].number: '1.00001'"),
    (lambda d: criterion(d).update(number="1." + "1." * 5 + "1"), "number: 13 characters"),
    (lambda d: d.update(purpose="p" * 20_001), "purpose: 20,001 characters; at most 20,000"),
    (
        lambda d: d["outcomes"][0].update(criteria=[criterion(d)] * 101),
        "outcomes[0].criteria: 101 entries; at most 100",
    ),
    (
        lambda d: d["range_statements"][0].update(items=["x"] * 201),
        "range_statements[0].items: 201 entries; at most 200",
    ),
    # numbers
    (lambda d: d.update(version="0"), "version: '0' is not a whole number from 1 to 9999"),
    (lambda d: d.update(version="10000"), "version: '10000' is not a whole number"),
    (lambda d: d.update(version="8.1"), "version: '8.1' is not a whole number"),
    (lambda d: d.update(level=11), "level: 11 is not from 1 to 10"),
    (lambda d: d.update(level=0), "level: 0 is not from 1 to 10"),
    (lambda d: d.update(credits=10**30), "credits: 1000000000000000000000000000000 is not from 0"),
    (lambda d: d.update(credits=-1), "credits: -1 is not from 0 to 999"),
    (lambda d: d.update(credits=2.5), "credits: expected a whole number, got 2.5"),
    (
        lambda d: d["range_statements"][0].update(coverage="minimum", minimum=2**40),
        "range_statements[0].minimum: coverage 'minimum' needs a minimum from 1 to 6",
    ),
    (lambda d: d.update(registration_date="99999-01-01"), "registration_date: 11 characters"),
    (lambda d: d.update(registration_date="2010-13-01"), "registration_date: '2010-13-01'"),
    # nesting and shape
    (lambda d: d.update(outcomes={"1": "x"}), "outcomes: expected a list, got an object"),
    (lambda d: d["outcomes"].__setitem__(0, ["1"]), "outcomes[0]: expected an object"),
    (lambda d: d["outcomes"][0]["criteria"].__setitem__(0, "1.1"), "outcomes[0].criteria[0]:"),
    (
        lambda d: d["range_statements"][0].update(criteria=[["1.2"]]),
        "range_statements[0].criteria: a list is not a criterion of this unit",
    ),
    (
        lambda d: d["range_statements"][0].update(criteria=["1.2", "1.2"]),
        "range_statements[0].criteria: '1.2' appears twice",
    ),
    (
        lambda d: d["range_statements"][0]["items"].__setitem__(0, {"text": "x"}),
        "range_statements[0].items[0]: expected non-empty text, got an object",
    ),
    (lambda d: d.update(title=[[[["deep"]]]]), "title: expected text, got a list"),
    (lambda d: criterion(d).update(colour="red"), 'outcomes[0].criteria[0]."colour": not a field'),
    (lambda d: d.update(extra={"a": 1}), '"extra": not a field of this part of a unit'),
    (lambda d: d["evidence_guide"].update(x=""), 'evidence_guide."x": not a field'),
]


@pytest.mark.parametrize(("damage", "message"), HOSTILE)
def test_hostile_values_are_refused_naming_the_field_and_change_nothing(damage, message):
    before = catalogue()
    data = us57()
    damage(data)
    if message is None:
        import_unit(data)
        assert Unit.objects.filter(code="57", version="8").exists()
        return
    with pytest.raises(UnitDataError, match=re.escape(message)):
        import_unit(data)
    assert catalogue() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested far deeper than a unit"),
        (b'{"level": ' + b"9" * 5000 + b"}", "not valid JSON (Exceeds the limit"),
        (b'{"level": NaN}', "not valid JSON (NaN is not a JSON number)"),
        (b'{"title": "\xff"}', "not UTF-8 text"),
        (b'{"title": "x' + b" " * 1_000_000 + b'"}', "larger than 1,000,000 bytes"),
    ],
    ids=["deep", "huge-int", "nan", "not-utf8", "huge"],
)
def test_unparseable_files_give_a_clear_error(tmp_path, content, message):
    before = catalogue()
    path = tmp_path / "unit.json"
    path.write_bytes(content)
    with pytest.raises(UnitDataError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        import_unit_file(path)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("import_unit", str(path))
    assert catalogue() == before


def test_the_code_from_the_report_is_refused_and_the_catalogue_still_works(
    tmp_path, candidate_client
):
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(us57(code="EVIL/1")), encoding="utf-8")
    with pytest.raises(CommandError, match=r"code: 'EVIL/1' is not a unit code.*Nothing was"):
        call_command("import_unit", str(path))
    assert candidate_client.get(reverse("standards:unit_list")).status_code == 200


@pytest.mark.parametrize("code", ["A", "a-b.c", "Z" * 20, "9.9-9", "BSB.CUS-301B"])
def test_every_code_that_passes_validation_works_in_the_catalogue(candidate_client, code):
    unit, created = import_unit(us57(code=code, title=f"Title of {code}"))
    assert created
    listing = candidate_client.get(reverse("standards:unit_list"))
    assert listing.status_code == 200
    assert f'href="{unit.get_absolute_url()}"' in listing.content.decode()
    for url in (unit.get_absolute_url(), reverse("standards:unit_detail", args=[code])):
        page = candidate_client.get(url)
        assert page.status_code == 200
        assert f"Title of {code}" in page.content.decode()


def test_fixtures_still_pass_and_round_trip(capsys):
    # The published units sit well inside every bound above.
    for code in ("57", "BSBCUS301B", "BSBCUS501B"):
        call_command("export_unit", code)
        assert capsys.readouterr().out == fixture_json(code)
