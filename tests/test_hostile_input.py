"""Bad input gets a clear error and changes nothing (issue 11, finding 8, web part).

NUL characters in parameters and form fields are refused with 400 by one
middleware; out-of-range dates are form errors; NSNs and USIs are ASCII only.
"""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assessment_portal.identifiers import validate_nsn, validate_usi
from assessments import moderation
from assessments.models import Cohort, Enrolment, ModerationRound
from evidence.models import Evidence
from standards.models import Unit
from tests.test_people import HEADER, csv_file, new_user_data, usi

pytestmark = pytest.mark.django_db
User = get_user_model()

NUL_MESSAGE = "contains a NUL character"


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin", "administrator", is_moderator=True))
    return client


# --- NUL characters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/enrolments/?unit=%00",
        "/enrolments/?cohort=1%00",
        "/assess/?unit=US%0057",
        "/people/?q=%00",
        "/evidence/?candidate=%00",
        "/standards/?q=a%00b",
        "/enrolments/?%00=1",
    ],
)
def test_nul_in_a_query_parameter_is_400_with_a_clear_message(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert NUL_MESSAGE in response.content.decode()


def test_nul_is_refused_before_login_too(client):
    response = client.get("/enrolments/?unit=%00")
    assert response.status_code == 400


def test_nul_in_a_posted_form_field_changes_nothing(admin_client):
    response = admin_client.post(reverse("assessments:cohort_create"), {"name": "Intake\x00 1"})
    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()
    assert not Cohort.objects.exists()


def test_nul_in_a_multipart_field_is_refused_and_nothing_is_stored(client, make_user, media_root):
    candidate = make_user("cand", "candidate")
    client.force_login(candidate)
    response = client.post(
        reverse("evidence:evidence_create", args=["file"]),
        {
            "title": "Log\x00book",
            "files": [SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")],
        },
    )
    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()
    assert not Evidence.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_nul_in_a_multipart_field_read_by_the_csrf_check(admin_client):
    """The candidate import is multipart and not an upload view: CSRF reads its body first."""
    response = admin_client.post(
        reverse("candidate_import"), {"file": csv_file(HEADER), "cohort": "\x00"}
    )
    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()


def test_requests_without_nul_are_untouched(admin_client):
    assert admin_client.get("/enrolments/?unit=57").status_code == 200


# --- dates out of range ---------------------------------------------------------------------


@pytest.mark.parametrize("end", ["9999-12-31", "0001-01-01", "3000-01-01"])
def test_a_moderation_period_out_of_range_is_a_form_error(admin_client, end):
    response = admin_client.post(
        reverse("moderation:round_create"),
        {
            "unit": Unit.objects.get(code="57").pk,
            "name": "Far future",
            "period_start": "2026-01-01",
            "period_end": end,
        },
    )
    assert response.status_code == 200
    assert "Enter a date between 01 Jan 1900 and 31 Dec 2999." in str(
        response.context["form"].errors["period_end"]
    )
    assert not ModerationRound.objects.exists()


def test_the_moderation_service_refuses_the_date_too(make_user):
    admin = make_user("admin", "administrator")
    with pytest.raises(ValidationError, match="Enter a date between"):
        moderation.create_round(
            unit=Unit.objects.get(code="57"),
            name="x",
            period_start=date(2026, 1, 1),
            period_end=date(9999, 12, 31),
            by=admin,
        )


def test_an_enrolment_due_date_out_of_range_is_a_form_error(admin_client, make_user):
    candidate = make_user("cand", "candidate")
    assessor = make_user("ass", "assessor")
    response = admin_client.post(
        reverse("assessments:enrolment_create"),
        {
            "candidate": candidate.pk,
            "unit": Unit.objects.get(code="57").pk,
            "assessor": assessor.pk,
            "due_date": "9999-12-31",
        },
    )
    assert response.status_code == 200
    assert "due_date" in response.context["form"].errors
    assert not Enrolment.objects.exists()


# --- ASCII-only identifiers -------------------------------------------------------------------

FULL_WIDTH_NSN = "１２３４５６７８９"  # full-width digits: isdigit() and int() accept them
ARABIC_INDIC_NSN = "١٢٣٤٥٦٧٨٩"


@pytest.mark.parametrize("value", [FULL_WIDTH_NSN, ARABIC_INDIC_NSN, "123456789\n"])
def test_nsn_is_ascii_digits_only(value):
    assert value.strip().isdigit()
    with pytest.raises(ValidationError):
        validate_nsn(value)
    validate_nsn("123456789")


def test_usi_is_ascii_only():
    good = usi(7)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in good)
    with pytest.raises(ValidationError):
        validate_usi(full_width)
    validate_usi(good)


def test_user_form_refuses_a_full_width_nsn_that_would_duplicate_one(admin_client, make_user):
    make_user("tama", "candidate", national_student_number="123456789")
    response = admin_client.post(
        reverse("user_create"), new_user_data(national_student_number=FULL_WIDTH_NSN)
    )
    assert response.status_code == 200
    assert "national_student_number" in response.context["form"].errors
    assert not User.objects.filter(username="hemi").exists()


def test_user_form_refuses_a_usi_with_a_letter_that_upper_cases_to_ascii(admin_client):
    # "ſ" (long s) upper-cases to "S": a valid USI with its "S" typed as "ſ" must not slip
    # through as that USI.
    good = next(usi(n) for n in range(1, 1000) if "S" in usi(n)[:9])
    value = good.replace("S", "ſ", 1)
    response = admin_client.post(
        reverse("user_create"),
        new_user_data(national_student_number="", unique_student_identifier=value),
    )
    assert "unique_student_identifier" in response.context["form"].errors
    assert not User.objects.filter(username="hemi").exists()


def test_csv_import_refuses_non_ascii_identifiers(admin_client):
    response = admin_client.post(
        reverse("candidate_import"),
        {"file": csv_file(HEADER, f"Hemi,Walker,hemi@example.ac.nz,{FULL_WIDTH_NSN},")},
    )
    assert response.status_code == 200
    errors = response.context["errors"]
    assert [(e.row, e.column) for e in errors] == [(2, "nsn")]
    assert not User.objects.filter(email="hemi@example.ac.nz").exists()
