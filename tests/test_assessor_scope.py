"""Assessors see only what they assess (issue 11, finding 10): transcript rows, the
queue's and enrolment list's cohort filters, the evidence portfolio."""

import pytest
from django.urls import reverse

from assessments import services
from assessments.models import Cohort
from evidence import services as evidence_services
from standards.models import PerformanceCriterion, Unit
from tests import test_reports
from tests.test_reports import read_pdf, signed_off, text_of

pytestmark = pytest.mark.django_db

people = test_reports.people


@pytest.fixture
def two_units(people):
    """The candidate in US57 (assessed by "assessor") and BSBCUS301B (by "other")."""
    signed_off(people)
    services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="BSBCUS301B"),
        assessor=people["other_assessor"],
        by=people["admin"],
        cohort=Cohort.objects.create(name="Other assessor's intake"),
    )


@pytest.mark.parametrize(
    "role, shown, hidden",
    [
        ("assessor", ["US57"], ["BSBCUS301B"]),
        ("other_assessor", ["BSBCUS301B"], ["US57"]),
        ("admin", ["US57", "BSBCUS301B"], []),
        ("candidate", ["US57", "BSBCUS301B"], []),
    ],
)
def test_transcript_rows_are_those_the_viewer_may_see(
    client, people, two_units, role, shown, hidden
):
    client.force_login(people[role])
    pk = people["candidate"].pk
    text = text_of(read_pdf(client.get(reverse("reports:transcript", args=[pk]))))
    preview = client.get(reverse("reports:transcript_preview", args=[pk])).content.decode()
    for code in shown:
        assert code in text and code in preview, (role, code)
    for code in hidden:
        assert code not in text and code not in preview, (role, code)
    partial = "Only the units you assess are shown" in preview
    assert partial == role.endswith("assessor")


def test_queue_and_enrolment_cohort_filters_list_only_cohorts_assessed(client, people, two_units):
    """The cohort filter is a name search over the assessor's own enrolments: no list of
    every cohort is shown, and another assessor's cohort finds nothing."""
    Cohort.objects.create(name="Nobody's cohort")
    mine = Cohort.objects.create(name="Assessor's intake")
    enrolment = people["candidate"].enrolments.get(unit__code="57")
    enrolment.cohort = mine
    enrolment.save()
    client.force_login(people["assessor"])
    for url in [reverse("assessments:queue"), reverse("assessments:enrolment_list")]:
        page = client.get(url).content.decode()
        assert "Other assessor" not in page, url
        assert "Nobody" not in page, url
    found = client.get(reverse("assessments:enrolment_list"), {"cohort": "intake"})
    assert found.context["page"].paginator.count == 1
    assert list(found.context["page"])[0].cohort == mine
    other = client.get(reverse("assessments:enrolment_list"), {"cohort": "Other assessor"})
    assert other.context["page"].paginator.count == 0


def test_evidence_for_another_assessors_unit_is_not_shown(client, people, two_units):
    candidate = people["candidate"]
    item = evidence_services.create_evidence_with_files(
        candidate=candidate,
        by=candidate,
        kind="written",
        data={"title": "For the other unit", "text": "Answer."},
    )
    evidence_services.map_evidence(
        evidence=item,
        by=candidate,
        criteria=[PerformanceCriterion.objects.filter(outcome__unit__code="BSBCUS301B").first()],
    )
    client.force_login(people["assessor"])
    listed = [e.title for e in client.get(reverse("evidence:evidence_list")).context["page"]]
    assert "For the other unit" not in listed
    assert client.get(item.get_absolute_url()).status_code == 404
    client.force_login(people["other_assessor"])
    listed = [e.title for e in client.get(reverse("evidence:evidence_list")).context["page"]]
    assert "For the other unit" in listed
    assert client.get(item.get_absolute_url()).status_code == 200
