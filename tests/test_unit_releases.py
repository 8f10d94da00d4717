"""A unit release that enrolments use never changes behind anyone's back (issue 11, finding 1)."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse

from assessments import services
from assessments.forms import CohortEnrolmentForm, EnrolmentForm
from assessments.models import Enrolment, Judgement
from standards.models import (
    CatalogueCorrection,
    PerformanceCriterion,
    RangeItem,
    RangeStatement,
    Unit,
)
from standards.services import UnitDataError, import_unit, unit_to_json

from .conftest import US57_1_2_RANGE
from .test_reports import people, read_pdf, record_url, signed_off, text_of  # noqa: F401
from .test_standards_catalogue import fixture_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(people):  # noqa: F811
    """A US57 v8 attempt signed off with every range item of criterion 1.2 covered."""
    return signed_off(people)


def us57():
    return json.loads(fixture_json("57"))


def covered_1_2(assessment):
    judgement = assessment.judgements.get(criterion__number="1.2")
    return sorted(judgement.range_items.values_list("pk", "text"))


def range_1_2():
    return RangeStatement.objects.get(unit__code="57", unit__version="8", criteria__number="1.2")


def record_text(client, people, assessment):  # noqa: F811
    """The record's text without the time it was generated (a minute may pass between)."""
    client.force_login(people["admin"])
    text = text_of(read_pdf(client.get(record_url(assessment))))
    return re.sub(r"\d{1,2}:\d{2} \S+ by Assessment Portal", "(time) by Assessment Portal", text)


# --- the admin ----------------------------------------------------------------


def test_admin_cannot_delete_a_range_statement_or_item_of_a_used_release(client, people, signed):  # noqa: F811
    statement = range_1_2()
    covered = covered_1_2(signed)
    client.force_login(people["admin"].__class__.objects.create_superuser("root", "", "pw"))
    url = reverse("admin:standards_rangestatement_delete", args=[statement.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    # The bulk action is refused too, naming why.
    response = client.post(
        reverse("admin:standards_rangestatement_changelist"),
        {"action": "delete_selected", "_selected_action": [statement.pk], "post": "yes"},
    )
    assert "is used by enrolments, so it is shown read-only" in response.content.decode()
    # Deleting an item through the statement's inline is ignored.
    item = statement.items.first()
    change = reverse("admin:standards_rangestatement_change", args=[statement.pk])
    page = client.get(change).content.decode()
    assert "US57 version 8 is used by enrolments, so it is shown read-only" in page
    assert 'name="items-0-DELETE"' not in page
    client.post(
        change,
        {
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "1",
            "items-0-id": item.pk,
            "items-0-range_statement": statement.pk,
            "items-0-DELETE": "on",
        },
    )
    assert RangeStatement.objects.filter(pk=statement.pk).exists()
    assert RangeItem.objects.filter(pk=item.pk).exists()
    assert covered_1_2(signed) == covered


def test_admin_shows_a_used_release_read_only_but_an_unused_one_editable(client, people, signed):  # noqa: F811
    client.force_login(people["admin"].__class__.objects.create_superuser("root", "", "pw"))
    used = Unit.objects.get(code="57")
    page = client.get(reverse("admin:standards_unit_change", args=[used.pk])).content.decode()
    assert "shown read-only" in page
    assert 'name="title"' not in page  # read-only text, not an input
    assert 'name="withdrawn"' in page  # a used release can still be withdrawn
    unused = Unit.objects.get(code="BSBCUS501B")
    page = client.get(reverse("admin:standards_unit_change", args=[unused.pk])).content.decode()
    assert "shown read-only" not in page
    assert 'name="title"' in page
    outcome = used.outcomes.first()
    page = client.get(reverse("admin:standards_outcome_change", args=[outcome.pk]))
    assert "shown read-only" in page.content.decode()
    # Nothing can be added to (or moved into) a used release.
    add = client.get(reverse("admin:standards_outcome_add")).content.decode()
    assert f'<option value="{unused.pk}">' in add
    assert f'<option value="{used.pk}">' not in add
    response = client.post(
        reverse("admin:standards_outcome_add"),
        {
            "unit": used.pk,
            "number": "4",
            "title": "Smuggled in",
            "criteria-TOTAL_FORMS": "0",
            "criteria-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # the form is shown again with the error
    assert not used.outcomes.filter(number="4").exists()
    assert client.get(reverse("admin:standards_cataloguecorrection_changelist")).status_code == 200


def test_orm_cascades_cannot_drop_what_a_judgement_covered(people, signed):  # noqa: F811
    covered = covered_1_2(signed)
    statement = range_1_2()
    outcome = PerformanceCriterion.objects.get(outcome__unit__code="57", number="3.1").outcome
    for delete in (statement.delete, statement.items.all().delete, outcome.delete):
        with pytest.raises(ProtectedError), transaction.atomic():
            delete()
    # Even an item no judgement covers belongs to a frozen release once anyone is enrolled.
    au = Unit.objects.get(code="BSBCUS501B")
    services.enrol(
        candidate=people["other_candidate"],
        unit=au,
        assessor=people["assessor"],
        by=people["admin"],
    )
    uncovered = RangeItem.objects.filter(range_statement__unit=au).first()
    frozen = "BSBCUS501B release 1 is used by enrolments"
    with pytest.raises(ProtectedError, match=frozen), transaction.atomic():
        uncovered.delete()
    relinked = "which criteria its range statements apply to"
    with pytest.raises(ProtectedError, match=relinked), transaction.atomic():
        statement.criteria.clear()
    assert covered_1_2(signed) == covered
    assert len(covered) == len(US57_1_2_RANGE)


def test_unused_release_can_still_be_deleted():
    unit, _ = import_unit({**us57(), "version": "9"})
    unit.delete()
    assert not Unit.objects.filter(code="57", version="9").exists()


# --- import_unit ------------------------------------------------------------


def test_import_removing_an_item_from_a_used_release_is_refused_and_changes_nothing(
    client,
    people,  # noqa: F811
    signed,
):
    before_json = unit_to_json(Unit.objects.get(code="57"))
    before_record = record_text(client, people, signed)
    assert "(time) by Assessment Portal" in before_record
    covered = covered_1_2(signed)
    data = us57()
    statement = next(s for s in data["range_statements"] if s["criteria"] == ["1.2"])
    statement["items"].remove("distributors")
    data["title"] = "This wording change must not be saved either"
    with pytest.raises(UnitDataError) as refused:
        import_unit(data, correction_reason="tidy", corrected_by=people["admin"])
    message = str(refused.value)
    assert "US57 version 8 is used by 1 enrolment, so its structure cannot change" in message
    assert (
        "give range statement 1 (of 1.2) 5 items instead of 6 (removed “distributors”)" in message
    )
    assert 'Import the new text as a new version (e.g. "version": "9")' in message
    assert unit_to_json(Unit.objects.get(code="57")) == before_json
    assert covered_1_2(signed) == covered
    assert record_text(client, people, signed) == before_record
    assert not CatalogueCorrection.objects.exists()


def remove_criterion_1_4(data):
    data["outcomes"][0]["criteria"].pop()
    for statement in data["range_statements"]:
        statement["criteria"] = [n for n in statement["criteria"] if n != "1.4"]


STRUCTURAL_CHANGES = [
    (remove_criterion_1_4, "remove criterion 1.4"),
    (
        lambda d: d["outcomes"][0]["criteria"].append({"number": "1.9", "text": "New."}),
        "add criterion 1.9",
    ),
    (lambda d: d["outcomes"][2].update(number="4"), "add outcome 4; remove outcome 3"),
    (lambda d: d["range_statements"].pop(), "have 5 range statements instead of 6"),
    (
        lambda d: d["range_statements"][0].update(coverage="examples"),
        "change how much of range statement 1 (of 1.2) must be covered",
    ),
    (
        lambda d: d["range_statements"][0].update(criteria=["1.1"]),
        "apply range statement 1 (of 1.2) to criteria 1.1 instead of 1.2",
    ),
    (lambda d: d.update(credits=3), "change the credits from 2 to 3"),
]


@pytest.mark.parametrize(("change", "named"), STRUCTURAL_CHANGES)
def test_every_structural_change_to_a_used_release_is_named_and_refused(signed, change, named):
    before = unit_to_json(Unit.objects.get(code="57"))
    data = us57()
    if named == "add outcome 4; remove outcome 3":
        for criterion in data["outcomes"][2]["criteria"]:
            criterion["number"] = "4" + criterion["number"][1:]
        for statement in data["range_statements"]:
            statement["criteria"] = [
                "4" + n[1:] if n[0] == "3" else n for n in statement["criteria"]
            ]
    change(data)
    with pytest.raises(UnitDataError, match=re.escape(named)):
        import_unit(data)
    assert unit_to_json(Unit.objects.get(code="57")) == before


def test_wording_change_to_a_used_release_needs_an_explicit_correction(signed):
    before = unit_to_json(Unit.objects.get(code="57"))
    data = us57()
    data["outcomes"][0]["criteria"][1]["text"] = "Corrected wording."
    with pytest.raises(
        UnitDataError, match=r"changes the wording of criterion 1\.2 text.*--correction"
    ):
        import_unit(data)
    assert unit_to_json(Unit.objects.get(code="57")) == before


def test_correction_is_logged_keeps_ids_and_the_signed_coverage(client, people, signed, tmp_path):  # noqa: F811
    unit = Unit.objects.get(code="57")
    criterion = PerformanceCriterion.objects.get(outcome__unit=unit, number="1.2")
    item = RangeItem.objects.get(range_statement__unit=unit, text="back-up staff")
    ids_before = sorted(
        RangeItem.objects.filter(range_statement__unit=unit).values_list("pk", flat=True)
    )
    covered = [pk for pk, _text in covered_1_2(signed)]
    data = us57()
    old_text = data["outcomes"][0]["criteria"][1]["text"]
    data["outcomes"][0]["criteria"][1]["text"] = old_text.replace(
        "Participants", "All participants"
    )
    statement = next(s for s in data["range_statements"] if s["criteria"] == ["1.2"])
    statement["items"][2] = "backup staff"
    path = tmp_path / "57.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(CommandError, match="--correction needs --by"):
        call_command("import_unit", str(path), correction="Typo in the source")
    call_command("import_unit", str(path), correction="Typo in the source", by="admin")

    corrections = list(CatalogueCorrection.objects.order_by("pk"))
    assert [(c.part, c.field, c.before, c.after) for c in corrections] == [
        ("criterion 1.2", "text", old_text, data["outcomes"][0]["criteria"][1]["text"]),
        ("range statement 1 (of 1.2), item 3", "text", "back-up staff", "backup staff"),
    ]
    assert all(
        c.reason == "Typo in the source" and c.corrected_by == people["admin"] for c in corrections
    )
    assert (corrections[0].object_id, corrections[1].object_id) == (criterion.pk, item.pk)
    assert (
        sorted(RangeItem.objects.filter(range_statement__unit=unit).values_list("pk", flat=True))
        == ids_before
    )
    assert [pk for pk, _text in covered_1_2(signed)] == covered
    assert RangeItem.objects.get(pk=item.pk).text == "backup staff"
    # The unit page shows the log.
    client.force_login(people["candidate"])
    page = client.get(unit.get_absolute_url()).content.decode()
    assert "Catalogue corrections" in page and "Typo in the source" in page
    # The log is append-only.
    with pytest.raises(ProtectedError):
        corrections[0].delete()
    with pytest.raises(ProtectedError):
        CatalogueCorrection.objects.update(reason="changed")
    corrections[0].reason = "changed"
    with pytest.raises(ProtectedError):
        corrections[0].save()
    # The database refuses it too, whoever asks (a data migration, a SQL prompt).
    for sql in [
        "UPDATE standards_cataloguecorrection SET reason = 'changed'",
        "DELETE FROM standards_cataloguecorrection",
    ]:
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert (
        list(CatalogueCorrection.objects.values_list("reason", flat=True))
        == ["Typo in the source"] * 2
    )


def test_administrator_corrects_wording_on_an_admin_page(client, people, signed):  # noqa: F811
    admin_user = people["admin"]
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    unit = Unit.objects.get(code="57")
    item = RangeItem.objects.get(range_statement__unit=unit, text="back-up staff")
    change_page = client.get(
        reverse("admin:standards_unit_change", args=[unit.pk])
    ).content.decode()
    url = reverse("admin:standards_unit_correct", args=[unit.pk])
    assert f'href="{url}"' in change_page
    choose = client.get(url).content.decode()
    key = f"rangeitem.{item.pk}.text"
    assert f'<option value="{key}">range statement 1 (of 1.2), item 3: text</option>' in choose
    page = client.get(url, {"part": key}).content.decode()
    assert "back-up staff" in page
    # Bad text is a form error and changes nothing.
    response = client.post(f"{url}?part={key}", {"text": "x\x07", "reason": "typo"})
    assert "control character U+0007" in response.content.decode()
    response = client.post(f"{url}?part={key}", {"text": "backup staff", "reason": ""})
    assert response.status_code == 200
    assert RangeItem.objects.get(pk=item.pk).text == "back-up staff"
    response = client.post(
        f"{url}?part={key}", {"text": "backup staff", "reason": "As in the 2024 PDF"}
    )
    assert response.status_code == 302
    correction = CatalogueCorrection.objects.get()
    assert (correction.object_id, correction.before, correction.after) == (
        item.pk,
        "back-up staff",
        "backup staff",
    )
    assert correction.corrected_by == admin_user
    # An assessor with admin access still may not correct the catalogue.
    assessor = people["assessor"]
    assessor.is_staff = assessor.is_superuser = True
    assessor.save()
    client.force_login(assessor)
    assert client.get(url, {"part": key}).status_code == 403


def test_only_an_administrator_corrects_wording(people, signed):  # noqa: F811
    data = us57()
    data["title"] = "Provide customer services"
    with pytest.raises(UnitDataError, match="made by an active administrator"):
        import_unit(data, correction_reason="typo", corrected_by=people["assessor"])
    assert Unit.objects.get(code="57").title == "Provide customer service"


def test_reimporting_the_same_file_over_a_used_release_changes_nothing(signed, capsys):
    path = next(p for p in __import__("tests.conftest").conftest.UNIT_FILES if p.stem == "57")
    call_command("import_unit", str(path))
    assert "Updated US57 version 8" in capsys.readouterr().out
    assert not CatalogueCorrection.objects.exists()


# --- new versions -------------------------------------------------------------


def test_new_version_imports_beside_the_old_and_new_enrolments_take_it(client, people, signed):  # noqa: F811
    v8 = Unit.objects.get(code="57")
    data = us57()
    data["version"] = "9"
    data["outcomes"][0]["criteria"].append({"number": "1.6", "text": "A criterion new in v9."})
    v9, created = import_unit(data)
    assert created and v9.pk != v8.pk
    assert Unit.objects.filter(code="57").count() == 2
    assert Enrolment.objects.get(candidate=people["candidate"]).unit == v8
    assert PerformanceCriterion.objects.filter(outcome__unit=v8).count() == 12
    assert PerformanceCriterion.objects.filter(outcome__unit=v9).count() == 13

    # Forms offer only current releases; the service enrols in the current one only.
    for form in (EnrolmentForm(), CohortEnrolmentForm()):
        offered = list(form.fields["unit"].queryset)
        assert v9 in offered and v8 not in offered
    newcomer = people["other_candidate"]
    with pytest.raises(ValidationError, match="US57 version 8 is no longer current"):
        services.enrol(candidate=newcomer, unit=v8, assessor=people["assessor"], by=people["admin"])
    enrolment = services.enrol(
        candidate=newcomer, unit=v9, assessor=people["assessor"], by=people["admin"]
    )
    assert Judgement.objects.filter(assessment__enrolment=enrolment).count() == 13
    with pytest.raises(ValidationError, match="already enrolled in US57 version 8"):
        services.enrol(
            candidate=people["candidate"], unit=v9, assessor=people["assessor"], by=people["admin"]
        )

    # The catalogue says which release is current and which superseded.
    client.force_login(people["admin"])
    listing = client.get(reverse("standards:unit_list")).content.decode()
    assert listing.count('href="/standards/57/v') == 2
    assert "Superseded" in listing and "Current" in listing
    by_code = client.get("/standards/57/").content.decode()
    assert "A criterion new in v9." in by_code
    assert 'href="/standards/57/v8/"' in by_code
    old = client.get("/standards/57/v8/").content.decode()
    assert "A criterion new in v9." not in old
    assert "superseded" in old and 'href="/standards/57/v9/"' in old
    assert client.get("/standards/57/v7/").status_code == 404


def test_withdrawn_release_is_never_current():
    data = us57()
    v9, _ = import_unit({**data, "version": "9"})
    v10, _ = import_unit({**data, "version": "10"})
    assert list(Unit.objects.current().filter(code="57")) == [v10]  # 10 > 9, not "10" < "9"
    v10.withdrawn = True
    v10.save()
    assert list(Unit.objects.current().filter(code="57")) == [v9]


def test_export_takes_the_current_release_or_the_one_asked_for(capsys):
    import_unit({**us57(), "version": "9", "title": "Provide customer service (v9)"})
    call_command("export_unit", "57")
    assert json.loads(capsys.readouterr().out)["version"] == "9"
    call_command("export_unit", "57", release="8")
    assert capsys.readouterr().out == fixture_json("57")
