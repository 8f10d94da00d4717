import copy
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from standards.models import PerformanceCriterion, RangeStatement, Unit
from standards.services import UnitDataError, import_unit, unit_to_json

from .conftest import UNIT_FILES, US57_1_2_RANGE

pytestmark = pytest.mark.django_db

EXPECTED = {
    # code: (outcomes, criteria, range statements, range items)
    "57": (3, 12, 6, 30),
    "BSBCUS301B": (3, 14, 10, 59),
    "BSBCUS501B": (3, 10, 4, 23),
}


def fixture_json(code):
    return next(p for p in UNIT_FILES if p.stem == code).read_text(encoding="utf-8")


@pytest.mark.parametrize("code", EXPECTED)
def test_units_hold_published_structure(code):
    outcomes, criteria, statements, items = EXPECTED[code]
    unit = Unit.objects.get(code=code)
    assert unit.outcomes.count() == outcomes
    assert PerformanceCriterion.objects.filter(outcome__unit=unit).count() == criteria
    assert unit.range_statements.count() == statements
    assert sum(rs.items.count() for rs in unit.range_statements.all()) == items


def test_us57_header_and_ranges_are_as_published():
    unit = Unit.objects.get(code="57")
    assert (unit.framework, unit.version, unit.level, unit.credits) == ("nzqa", "8", 2, 2)
    assert unit.available_grade == "Achieved"
    assert str(unit.planned_review_date) == "2015-12-31"
    assert unit.amap_reference == "0023"
    range_12 = RangeStatement.objects.get(unit=unit, criteria__number="1.2")
    assert range_12.coverage == "all"
    assert [i.text for i in range_12.items.all()] == US57_1_2_RANGE


def test_bsbcus301b_glue_is_repaired_and_gaps_recorded():
    unit = Unit.objects.get(code="BSBCUS301B")
    criterion = PerformanceCriterion.objects.get(outcome__unit=unit, number="1.1")
    assert criterion.text == (
        "Use appropriate interpersonal skills to accurately identify and clarify "
        "customer needs and expectations"
    )
    designated = unit.range_statements.get(term="Designated individuals")
    assert [i.text for i in designated.items.all()] == ["line management"]
    assert "line management" in designated.note
    assert designated.coverage == "examples"


def test_bsbcus501b_reconciles_all_three_scrapes():
    unit = Unit.objects.get(code="BSBCUS501B")
    customers = [i.text for i in unit.range_statements.get(term="Customers").items.all()]
    assert "supervisors" in customers  # lost from the .plain scrape
    assert unit.range_statements.get(term="Resources").items.count() == 8


def test_numbers_sort_naturally():
    data = json.loads(fixture_json("57"))
    data["code"] = "99999"
    data["range_statements"] = []
    data["outcomes"][0]["criteria"] = [
        {"number": n, "text": f"Criterion {n}."} for n in ["1.10", "1.2", "1.9", "1.1"]
    ]
    unit, created = import_unit(data)
    assert created
    numbers = [c.number for c in unit.outcomes.first().criteria.all()]
    assert numbers == ["1.1", "1.2", "1.9", "1.10"]


@pytest.mark.parametrize("code", EXPECTED)
def test_export_import_into_empty_database_is_byte_identical(code, tmp_path, capsys):
    Unit.objects.all().delete()
    path = tmp_path / f"{code}.json"
    path.write_text(fixture_json(code), encoding="utf-8")
    call_command("import_unit", str(path))
    capsys.readouterr()
    call_command("export_unit", code)
    assert capsys.readouterr().out == fixture_json(code)


def test_import_updates_in_place_keeping_criterion_ids():
    unit = Unit.objects.get(code="57")
    before = {c.number: c.pk for c in PerformanceCriterion.objects.filter(outcome__unit=unit)}
    data = json.loads(fixture_json("57"))
    data["outcomes"][0]["criteria"][0]["text"] = "Corrected wording."
    _, created = import_unit(data)
    assert not created
    after = {c.number: c.pk for c in PerformanceCriterion.objects.filter(outcome__unit=unit)}
    assert after == before
    assert PerformanceCriterion.objects.get(pk=before["1.1"]).text == "Corrected wording."


BAD_DOCUMENTS = [
    (lambda d: d.pop("title"), "title: missing"),
    (lambda d: d.update(framework="uk"), "framework: 'uk' is not one of nzqa, au"),
    (lambda d: d.update(level="two"), 'level: expected a whole number, got "two"'),
    (lambda d: d.update(registration_date="16/07/2010"), "registration_date: '16/07/2010'"),
    (
        lambda d: d["outcomes"][1]["criteria"][0].update(number="1.5"),
        "outcomes[1].criteria[0].number: '1.5' does not belong under '2'",
    ),
    (
        lambda d: d["range_statements"][0].update(criteria=["9.9"]),
        'range_statements[0].criteria: "9.9" is not a criterion of this unit',
    ),
    (
        lambda d: d["range_statements"][0].update(coverage="minimum"),
        "range_statements[0].minimum: coverage 'minimum' needs a minimum from 1 to 6",
    ),
    (lambda d: d["outcomes"][0]["criteria"][1].update(text="  "), "text: must not be empty"),
]


@pytest.mark.parametrize(("damage", "message"), BAD_DOCUMENTS)
def test_bad_import_names_the_problem_and_changes_nothing(damage, message):
    before = unit_to_json(Unit.objects.get(code="57"))
    data = json.loads(fixture_json("57"))
    data["purpose"] = "This change must not be saved."
    damage(data)
    with pytest.raises(UnitDataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_unit(data)
    assert unit_to_json(Unit.objects.get(code="57")) == before


def test_import_command_is_all_or_nothing_across_files(tmp_path):
    good = json.loads(fixture_json("57"))
    good["title"] = "Renamed in the first file"
    bad = copy.deepcopy(good)
    bad["code"] = "58"
    bad["outcomes"] = []
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(json.dumps(bad))
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(CommandError, match=r"b\.json: outcomes: must not be empty\. Nothing"):
        call_command("import_unit", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    with pytest.raises(CommandError, match=r"c\.json: not valid JSON"):
        call_command("import_unit", str(tmp_path / "c.json"))
    assert Unit.objects.get(code="57").title == "Provide customer service"
    assert not Unit.objects.filter(code="58").exists()


def test_export_unknown_code_lists_known_codes():
    with pytest.raises(CommandError, match=r"No unit with code 'XYZ' \(known: .*BSBCUS301B"):
        call_command("export_unit", "XYZ")


def test_catalogue_requires_login(client):
    response = client.get(reverse("standards:unit_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unit_list_shows_all_units(candidate_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = candidate_client.get(reverse("standards:unit_list"))
    content = response.content.decode()
    for text in ["US57", "Provide customer service", "BSBCUS301B", "BSBCUS501B"]:
        assert text in content


@pytest.mark.parametrize("code", EXPECTED)
def test_unit_page_shows_every_criterion_and_range_item(
    code, candidate_client, django_assert_max_num_queries
):
    unit = Unit.objects.get(code=code)
    # The same budget for every unit: the page's queries do not grow with its size.
    # The release list and the corrections log are one query each.
    with django_assert_max_num_queries(13):
        response = candidate_client.get(unit.get_absolute_url())
    content = response.content.decode()
    for criterion in PerformanceCriterion.objects.filter(outcome__unit=unit):
        assert f'id="criterion-{criterion.number}"' in content
    from django.utils.html import escape

    for statement in unit.range_statements.all():
        for item in statement.items.all():
            assert escape(item.text) in content
    assert unit.transcription_note[:40] in content


def test_au_page_links_range_terms_and_labels_elements(candidate_client):
    response = candidate_client.get(reverse("standards:unit_detail", args=["BSBCUS301B"]))
    content = response.content.decode()
    assert "Element 1: Identify customer needs" in content
    anchor = RangeStatement.objects.get(
        unit__code="BSBCUS301B", term="Designated individuals"
    ).anchor
    assert f'<a class="range-term" href="#{anchor}"' in content
    assert "designated individuals</a>" in content


def test_nz_page_uses_nzqa_labels(candidate_client):
    content = candidate_client.get(reverse("standards:unit_detail", args=["57"])).content.decode()
    assert "Outcomes and evidence requirements" in content
    assert "Outcome 3: Respond to a customer complaint." in content
    assert "includes but is not limited to" in content


def test_unknown_unit_is_404(candidate_client):
    assert candidate_client.get("/standards/NOPE/").status_code == 404


def test_production_settings_refuse_missing_secret_key(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "assessment_portal.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
