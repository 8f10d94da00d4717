"""The evidence portfolio in Chromium: axe-core finds no serious violation, and a keyboard
alone can map an item and submit a unit."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assessments.models import Assessment
from assessments.services import enrol
from evidence.services import create_evidence_with_files
from standards.models import Unit

from .conftest import log_in, serious_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portfolio(site, make_user):
    candidate = make_user("cand", "candidate")
    assessor = make_user("assessor", "assessor")
    enrolment = enrol(
        candidate=candidate,
        unit=Unit.objects.get(code="57"),
        assessor=assessor,
        by=make_user("admin", "administrator"),
    )
    evidence = create_evidence_with_files(
        candidate=candidate,
        by=candidate,
        kind="file",
        data={"title": "Log book"},
        uploads=[SimpleUploadedFile("log.txt", b"Greeted 40 customers.\n")],
    )
    return {"enrolment": enrolment, "evidence": evidence}


def test_evidence_pages_have_no_serious_violations(page, portfolio):
    evidence, enrolment = portfolio["evidence"], portfolio["enrolment"]
    log_in(page, "cand")
    for path in [
        reverse("evidence:evidence_list"),
        reverse("evidence:evidence_create", args=["file"]),
        reverse("evidence:evidence_create", args=["written"]),
        evidence.get_absolute_url(),
        reverse("evidence:evidence_edit", args=[evidence.pk]),
        reverse("evidence:evidence_add_files", args=[evidence.pk]),
        reverse("evidence:evidence_delete", args=[evidence.pk]),
        reverse("evidence:evidence_map", args=[evidence.pk]),
        reverse("evidence:coverage", args=[enrolment.pk]),
        reverse("evidence:submit", args=[enrolment.pk]),
    ]:
        page.goto(path)
        assert serious_violations(page) == [], path
    log_in(page, "assessor")
    for kind in ["observation", "questioning", "third_party"]:
        page.goto(reverse("evidence:evidence_create", args=[kind]))
        assert serious_violations(page) == [], kind


def test_keyboard_user_maps_and_submits(page, portfolio):
    evidence, enrolment = portfolio["evidence"], portfolio["enrolment"]
    log_in(page, "cand")
    page.goto(reverse("evidence:evidence_map", args=[evidence.pk]))
    page.get_by_label("1.1 Terms customer care").focus()
    page.keyboard.press("Space")
    page.get_by_label("Note").focus()
    page.keyboard.type("My definitions, from the staff handbook.")
    page.get_by_role("button", name="Map").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{evidence.get_absolute_url()}")

    page.goto(reverse("evidence:submit", args=[enrolment.pk]))
    page.get_by_label("I declare that").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Submit for assessment").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{enrolment.get_absolute_url()}")

    mapping = evidence.mappings.get()
    assert (mapping.criterion.number, mapping.note) == (
        "1.1",
        "My definitions, from the staff handbook.",
    )
    assert Assessment.objects.get(enrolment=enrolment).status == Assessment.Status.SUBMITTED
    assert list(Assessment.objects.get().evidence.all()) == [evidence]
    # The same pages once there is a mapping and the item is locked.
    for path in [
        evidence.get_absolute_url(),
        reverse("evidence:evidence_map", args=[evidence.pk]),
        reverse("evidence:coverage", args=[enrolment.pk]),
        reverse("evidence:submit", args=[enrolment.pk]),
    ]:
        page.goto(path)
        assert serious_violations(page) == [], path
