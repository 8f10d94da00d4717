"""Results exports (AVETMISS and NZQA; CSV and XLSX) and the enrolment decisions behind them."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from openpyxl import load_workbook

from assessments import enrolment_status, services
from assessments.models import EnrolmentStatusChange
from integrations.exporters import EXPORTERS
from standards.models import Unit

from . import integrations_support as support
from .integrations_support import enrol, sign_off, usi

pytestmark = pytest.mark.django_db
people = support.people
TODAY = timezone.localdate


def csv_rows(content):
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def xlsx_rows(content):
    sheet = load_workbook(io.BytesIO(content)).active
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


@pytest.fixture
def au_results(people, make_user, settings):
    """One AU candidate per national outcome, plus an amended result."""
    settings.ASSESSMENT_MAX_ATTEMPTS = 1  # a "not yet" is then final (30, not 70)

    def candidate(name, body):
        return make_user(
            name, "candidate", last_name=name.title(), unique_student_identifier=usi(body)
        )

    def enrolled(name, body):
        return enrol({**people, "candidate": candidate(name, body)}, "BSBCUS301B")

    admin = people["admin"]
    sign_off(people, enrolled("competent", "222222222"))
    sign_off(people, enrolled("notyet", "333333333"), not_yet=["1.1"])
    amended = sign_off(people, enrolled("amended", "444444444"), not_yet=["1.1"])
    services.amend_result(
        assessment=amended, by=admin, new_result="achieved", reason="Evidence re-read."
    )
    for name, body, status in [
        ("withdrawn", "555555555", "withdrawn"),
        ("rplyes", "666666666", "rpl_granted"),
        ("rplno", "777777777", "rpl_not_granted"),
        ("transfer", "888888888", "credit_transfer"),
    ]:
        enrolment_status.change_status(
            enrolment=enrolled(name, body),
            new_status=status,
            effective_date=TODAY() - timedelta(days=1),
            reason="Recorded from the SMS.",
            by=admin,
        )
    enrolled("continuing", "999999999")


@pytest.mark.parametrize(
    "identifier,reader", [("avetmiss-csv", csv_rows), ("avetmiss-xlsx", xlsx_rows)]
)
def test_avetmiss_outcome_codes_for_every_outcome_kind(au_results, identifier, reader):
    content = EXPORTERS[identifier]().render()
    rows = {row["Family name"]: row for row in reader(content)}
    codes = {name: str(row["Outcome identifier - national"]) for name, row in rows.items()}
    assert codes == {
        "Competent": "20",
        "Notyet": "30",
        "Amended": "20",
        "Withdrawn": "40",
        "Rplyes": "51",
        "Rplno": "52",
        "Transfer": "60",
        "Continuing": "70",
    }
    assert rows["Amended"]["Amended"] == "Yes" and rows["Competent"]["Amended"] == "No"
    assert rows["Amended"]["Amended on"] == TODAY().isoformat()
    assert rows["Competent"]["USI"] == usi("222222222")
    assert rows["Competent"]["Unit code"] == "BSBCUS301B"
    assert rows["Withdrawn"]["Activity end date"] == (TODAY() - timedelta(days=1)).isoformat()
    assert rows["Continuing"]["Activity end date"] in ("", None)


def test_nzqa_rows_carry_nsn_standard_version_result_and_date_met(people, make_user):
    achieved = sign_off(people, enrol(people, "57"))
    other = make_user("mere", "candidate", last_name="Mere", national_student_number="1234567890")
    not_achieved = sign_off(people, enrol({**people, "candidate": other}, "57"), not_yet=["1.1"])
    services.amend_result(
        assessment=not_achieved,
        by=people["admin"],
        new_result="achieved",
        reason="Moderation found the evidence sufficient.",
    )
    rows = {row["Family name"]: row for row in csv_rows(EXPORTERS["nzqa-csv"]().render())}
    row = rows["Ngata"]
    assert row["NSN"] == "123456789"
    assert row["Standard number"] == "57" and row["Version"] == achieved.enrolment.unit.version
    assert row["Result"] == "Achieved" and row["Date standard met"] == TODAY().isoformat()
    assert row["Amended"] == "No"
    # Attempt 2 is open after the "not yet", but the amendment made attempt 1 achieved.
    assert rows["Mere"]["Result"] == "Achieved" and rows["Mere"]["Amended"] == "Yes"


def test_nzqa_not_achieved_has_no_date_met(people, settings):
    settings.ASSESSMENT_MAX_ATTEMPTS = 1
    sign_off(people, enrol(people, "57"), not_yet=["1.1"])
    [row] = csv_rows(EXPORTERS["nzqa-csv"]().render())
    assert row["Result"] == "Not achieved" and row["Date standard met"] == ""


def test_a_not_yet_with_attempts_left_is_continuing(people):
    sign_off(people, enrol(people, "BSBCUS301B", candidate="au_candidate"), not_yet=["1.1"])
    [row] = csv_rows(EXPORTERS["avetmiss-csv"]().render())
    assert row["Outcome identifier - national"] == "70"


def test_filters_by_unit_cohort_and_period(au_results, people):
    exporter = EXPORTERS["avetmiss-csv"]
    yesterday = TODAY() - timedelta(days=1)
    only_yesterday = csv_rows(exporter(period_start=yesterday, period_end=yesterday).render())
    # Decided yesterday: the four status decisions; continuing rows are always reported.
    assert {row["Outcome identifier - national"] for row in only_yesterday} == {
        "40",
        "51",
        "52",
        "60",
        "70",
    }

    other_unit = csv_rows(exporter(unit=Unit.objects.get(code="BSBCUS501B")).render())
    assert other_unit == []


def test_cells_that_look_like_formulas_are_escaped_in_csv_and_xlsx(people, make_user):
    evil = make_user("evil", "candidate", last_name='=HYPERLINK("http://x")', first_name="+1")
    sign_off(people, enrol({**people, "candidate": evil}, "57"))
    [row] = csv_rows(EXPORTERS["nzqa-csv"]().render())
    assert row["Family name"] == '\'=HYPERLINK("http://x")' and row["Given name"] == "'+1"
    sheet = load_workbook(io.BytesIO(EXPORTERS["nzqa-xlsx"]().render())).active
    cell = sheet.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value.startswith("'=")


# --- recording withdrawal, RPL and credit transfer ----------------------------------------


def test_rpl_and_credit_transfer_only_before_anything_is_submitted(people):
    enrolment = enrol(people, "57")
    sign_off(people, enrolment)
    with pytest.raises(ValidationError, match="already been submitted"):
        enrolment_status.change_status(
            enrolment=enrolment,
            new_status="rpl_granted",
            effective_date=TODAY(),
            reason="Prior certificate.",
            by=people["admin"],
        )
    with pytest.raises(ValidationError, match="already achieved"):
        enrolment_status.withdraw(enrolment=enrolment, by=people["admin"], reason="Left.")
    assert not EnrolmentStatusChange.objects.exists()


def test_decisions_need_an_administrator_a_reason_and_a_past_date(people):
    enrolment = enrol(people, "57")
    with pytest.raises(PermissionDenied):
        enrolment_status.withdraw(enrolment=enrolment, by=people["assessor"], reason="Left.")
    with pytest.raises(ValidationError, match="reason"):
        enrolment_status.withdraw(enrolment=enrolment, by=people["admin"], reason="  ")
    with pytest.raises(ValidationError, match="future"):
        enrolment_status.withdraw(
            enrolment=enrolment,
            by=people["admin"],
            reason="Left.",
            effective_date=TODAY() + timedelta(days=1),
        )
    enrolment.refresh_from_db()
    assert enrolment.status == "active"


def test_withdrawal_closes_submission_and_reinstating_is_recorded(people):
    enrolment = enrol(people, "57")
    enrolment_status.withdraw(enrolment=enrolment, by=people["admin"], reason="Left.")
    with pytest.raises(ValidationError, match="reinstate"):
        enrolment_status.change_status(
            enrolment=enrolment,
            new_status="credit_transfer",
            effective_date=TODAY(),
            reason="x",
            by=people["admin"],
        )
    enrolment_status.change_status(
        enrolment=enrolment,
        new_status="active",
        effective_date=TODAY(),
        reason="Came back.",
        by=people["admin"],
    )
    history = list(enrolment.status_changes.values_list("previous_status", "new_status"))
    assert history == [("active", "withdrawn"), ("withdrawn", "active")]
    with pytest.raises(ValueError, match="append-only"):
        enrolment.status_changes.first().delete()


def test_status_page_for_administrators_only(client, people):
    enrolment = enrol(people, "57")
    url = f"/enrolments/{enrolment.pk}/status/"
    for user in [people["assessor"], people["candidate"]]:
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(people["admin"])
    response = client.post(
        url,
        {"new_status": "rpl_granted", "effective_date": TODAY().isoformat(), "reason": "Cert."},
    )
    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.status == "rpl_granted"
    detail = client.get(f"/enrolments/{enrolment.pk}/").content.decode()
    assert "RPL granted" in detail and "Cert." in detail


def test_export_page_downloads_for_administrators_only(client, people):
    sign_off(people, enrol(people, "57"))
    for user in [people["assessor"], people["candidate"]]:
        client.force_login(user)
        assert client.get("/integrations/exports/").status_code == 404
    client.force_login(people["admin"])
    assert client.get("/integrations/exports/").status_code == 200
    response = client.get("/integrations/exports/", {"format": "nzqa-csv"})
    assert response["Content-Disposition"].startswith('attachment; filename="results-nzqa-')
    assert csv_rows(response.content)[0]["Result"] == "Achieved"

    wrong = client.get(
        "/integrations/exports/",
        {"format": "nzqa-xlsx", "unit": Unit.objects.get(code="BSBCUS301B").pk},
    )
    assert wrong.status_code == 200 and "choose the AVETMISS export" in wrong.content.decode()
