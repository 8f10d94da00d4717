"""Locked means locked (issue 11, findings 2 and 3).

Once an item is in a submitted attempt its mappings to that unit's criteria are
frozen, even after sign-off; the assessor's own records cannot be unmapped, edited
or deleted by the candidate and always go into the submission.
"""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assessments import services as assessment_services
from assessments.models import Assessment
from evidence import services
from evidence.models import Evidence, EvidenceMapping
from standards.models import Unit
from tests import test_evidence
from tests.test_assessment import judge_all
from tests.test_evidence import criterion, login, map_to, range_items, submit, written_item

pytestmark = pytest.mark.django_db

people, enrolment = test_evidence.people, test_evidence.enrolment


def submit_attempt(enrolment, candidate):
    return assessment_services.submit_for_assessment(
        assessment=enrolment.assessments.get(status=Assessment.Status.OPEN),
        by=candidate,
        declaration_accepted=True,
    )


def sign_off(assessment, assessor, not_yet=()):
    judge_all(assessment, assessor, not_yet=not_yet)
    assessment_services.sign_off(
        assessment=assessment,
        by=assessor,
        feedback="Show it again." if not_yet else "",
        declaration_accepted=True,
    )


def observation(people, title="Served at the counter"):
    return services.create_evidence_with_files(
        candidate=people["candidate"],
        by=people["assessor"],
        kind="observation",
        data={"title": title, "occurred_on": date(2026, 3, 2), "text": "Greeted the customer."},
    )


# --- finding 2: mappings to a submitted unit are frozen --------------------------------------


def test_submitted_item_takes_no_new_criterion_of_its_unit_even_after_sign_off(
    client, people, enrolment
):
    evidence = written_item(people["candidate"])
    map_to(evidence, "1.1")
    attempt = submit_attempt(enrolment, people["candidate"])
    sign_off(attempt, people["assessor"])

    # The service refuses, saying why, whoever asks.
    with pytest.raises(ValidationError, match="frozen as the assessor received them"):
        map_to(evidence, "1.3")
    login(client, people["candidate"])
    url = reverse("evidence:evidence_map", args=[evidence.pk])
    page = client.get(url)
    offered = [
        pk for _, group in page.context["form"].fields["criteria"].choices for pk, _ in group
    ]
    assert criterion("57", "1.3").pk not in offered
    # A post for a criterion that is not offered is refused with the reason.
    response = client.post(url, {"criteria": [criterion("57", "1.3").pk]})
    assert "frozen as the assessor received them" in response.content.decode()
    assert list(evidence.mappings.values_list("criterion__number", flat=True)) == ["1.1"]


def test_range_items_of_a_submitted_mapping_cannot_change(people, enrolment):
    evidence = written_item(people["candidate"])
    map_to(evidence, "1.2", range_items=range_items("customer"))
    submit_attempt(enrolment, people["candidate"])
    with pytest.raises(ValidationError, match="submitted for assessment in US57"):
        map_to(evidence, "1.2", range_items=range_items("customer", "suppliers"))
    mapping = EvidenceMapping.objects.get()
    assert [i.text for i in mapping.range_items.all()] == ["customer"]


def test_a_resubmission_cannot_reuse_an_item_for_other_criteria_of_the_unit(people, enrolment):
    evidence = written_item(people["candidate"])
    map_to(evidence, "1.1")
    attempt = submit_attempt(enrolment, people["candidate"])
    sign_off(attempt, people["assessor"], not_yet=["1.2"])
    assert enrolment.assessments.filter(status=Assessment.Status.OPEN).exists()
    with pytest.raises(ValidationError, match="frozen"):
        map_to(evidence, "1.2")


def test_a_submitted_item_can_still_be_mapped_to_another_open_unit(client, people, enrolment):
    other_unit = Unit.objects.get(code="BSBCUS301B")
    assessment_services.enrol(
        candidate=people["candidate"],
        unit=other_unit,
        assessor=people["assessor"],
        by=people["admin"],
    )
    evidence = written_item(people["candidate"])
    map_to(evidence, "1.1")
    submit_attempt(enrolment, people["candidate"])

    login(client, people["candidate"])
    first = other_unit.outcomes.first().criteria.first()
    response = client.post(
        reverse("evidence:evidence_map", args=[evidence.pk]), {"criteria": [first.pk]}
    )
    assert response.status_code == 302
    assert evidence.mappings.filter(criterion=first).exists()


def test_frozen_check_holds_when_the_view_is_bypassed(people, enrolment):
    """The rule lives in the service: a stale Evidence instance changes nothing."""
    evidence = written_item(people["candidate"])
    map_to(evidence, "1.1")
    stale = Evidence.objects.get(pk=evidence.pk)
    submit_attempt(enrolment, people["candidate"])
    with pytest.raises(ValidationError):
        map_to(stale, "2.1")
    assert evidence.mappings.count() == 1


# --- finding 3: the assessor's records ------------------------------------------------------


def test_candidate_cannot_unmap_edit_or_delete_an_assessors_observation(client, people, enrolment):
    record = observation(people)
    [mapping] = map_to(record, "1.1", by=people["assessor"])

    with pytest.raises(services.AssessorRecord, match="made by your assessor"):
        services.unmap_evidence(mapping=mapping, by=people["candidate"])
    with pytest.raises(ValidationError, match="only they can change its mappings to 1.1"):
        map_to(record, "1.1", by=people["candidate"])

    login(client, people["candidate"])
    detail = client.get(record.get_absolute_url()).content.decode()
    assert reverse("evidence:evidence_unmap", args=[mapping.pk]) not in detail
    response = client.post(reverse("evidence:evidence_unmap", args=[mapping.pk]), follow=True)
    assert "only they can unmap, edit or delete it" in response.content.decode()
    for name in ["evidence_edit", "evidence_delete"]:
        url = reverse(f"evidence:{name}", args=[record.pk])
        assert client.post(url, {"title": "Mine now"}).status_code == 404
    record.refresh_from_db()
    assert record.title == "Served at the counter"
    assert EvidenceMapping.objects.filter(pk=mapping.pk).exists()

    # The assessor who made it still can, before it is submitted.
    services.unmap_evidence(mapping=mapping, by=people["assessor"])
    assert not EvidenceMapping.objects.exists()


def test_assessors_records_always_go_into_the_submission(client, people, enrolment):
    record = observation(people)
    map_to(record, "1.1", by=people["assessor"])
    own = written_item(people["candidate"])
    map_to(own, "1.2")

    login(client, people["candidate"])
    page = client.get(reverse("evidence:submit", args=[enrolment.pk])).content.decode()
    assert "Served at the counter" in page
    submit(client, enrolment)
    attempt = enrolment.assessments.get()
    assert attempt.status == Assessment.Status.SUBMITTED
    assert set(attempt.evidence.all()) == {record, own}
