"""Moderator independence is re-checked at every step (issue 11, finding 4):
drawing, reviewing, amending and reassigning."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assessments import moderation, services
from assessments.models import Enrolment, ModerationReview
from tests import test_moderation
from tests.test_moderation import agree_all, new_round, quick_attempt

pytestmark = pytest.mark.django_db

people = test_moderation.people


@pytest.fixture
def sampled(people, make_user):
    """a1's decision about a candidate, sampled for the administrator to moderate."""
    attempt = quick_attempt(make_user("cand", "candidate", first_name="Tama"), people["a1"])
    round_ = new_round(people)
    (sample,) = moderation.pick_sample(
        round_=round_, by=people["admin"], assessments=[attempt], moderators=[people["admin"]]
    )
    return sample


def review(sample, by):
    return moderation.submit_review(
        sample=sample,
        by=by,
        criteria=agree_all(sample),
        agrees_with_result=True,
        recommendation="",
    )


def test_an_administrator_who_amended_a_sampled_result_cannot_review_it(client, people, sampled):
    admin = people["admin"]
    client.force_login(admin)
    response = client.post(
        reverse("assessments:amend", args=[sampled.assessment_id]),
        {"new_result": "not_achieved", "reason": "Criterion 1.1 was misread."},
        follow=True,
    )
    page = response.content.decode()
    assert "The amendment is recorded" in page
    assert "having amended it you can no longer review it" in page

    with pytest.raises(ValidationError) as refused:
        review(sampled, admin)
    message = refused.value.messages[0]
    assert "you amended its result" in message
    assert "An administrator can give the sample to another moderator" in message
    assert not ModerationReview.objects.exists()

    # The review page says so instead of offering the form; a forged post changes nothing.
    url = reverse("moderation:review", args=[sampled.pk])
    page = client.get(url).content.decode()
    assert "You can no longer review this decision: you amended its result" in page
    assert "Submit review" not in page
    client.post(url, {"result": "agree"})
    assert not ModerationReview.objects.exists()

    # The round page flags the sample, and the sample can be given to another moderator.
    round_page = client.get(sampled.round.get_absolute_url()).content.decode()
    assert "took part in this decision since it was drawn: reassign" in round_page
    assign = reverse("moderation:sample_assign", args=[sampled.pk])
    assert assign in round_page
    response = client.post(assign, {"moderator": admin.pk})
    assert "amended its result" in response.content.decode()
    response = client.post(assign, {"moderator": people["m1"].pk})
    assert response.status_code == 302
    sampled.refresh_from_db()
    assert sampled.moderator == people["m1"]
    assert (
        "took part in this decision"
        not in client.get(sampled.round.get_absolute_url()).content.decode()
    )
    review(sampled, people["m1"])
    assert ModerationReview.objects.get().moderator == people["m1"]


def test_a_moderator_who_recorded_evidence_in_the_attempt_cannot_review_it(client, people, sampled):
    # The review page checks this from the evidence it shows; the service queries it.
    sampled.assessment.evidence.update(recorded_by=people["admin"])
    client.force_login(people["admin"])
    page = client.get(reverse("moderation:review", args=[sampled.pk])).content.decode()
    assert "You can no longer review this decision: you recorded evidence in it" in page
    assert 'name="result"' not in page
    with pytest.raises(ValidationError) as refused:
        review(sampled, people["admin"])
    assert "you recorded evidence in it" in refused.value.messages[0]


def test_an_assessor_made_assessor_of_the_enrolment_cannot_review(people, sampled):
    moderation.assign_moderator(sample=sampled, moderator=people["m1"], by=people["admin"])
    # However it came about (e.g. data from before this check), the review is refused.
    Enrolment.objects.filter(pk=sampled.assessment.enrolment_id).update(assessor=people["m1"])
    with pytest.raises(ValidationError, match="you are the enrolment's assessor"):
        review(sampled, people["m1"])
    assert not ModerationReview.objects.exists()


def test_reassigning_the_enrolment_to_its_samples_moderator_is_refused(client, people, sampled):
    moderation.assign_moderator(sample=sampled, moderator=people["m1"], by=people["admin"])
    enrolment = sampled.assessment.enrolment
    client.force_login(people["admin"])
    response = client.post(
        reverse("assessments:enrolment_reassign", args=[enrolment.pk]),
        {"assessor": people["m1"].pk},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "is the moderator of attempt 1 of this enrolment" in page
    assert "Give that sample to another moderator first" in page
    enrolment.refresh_from_db()
    assert enrolment.assessor == people["a1"]
    # Another assessor is fine; so is the same one once the sample has been reviewed.
    services.reassign_assessor(enrolment=enrolment, assessor=people["a2"], by=people["admin"])
    review(sampled, people["m1"])
    services.reassign_assessor(enrolment=enrolment, assessor=people["m1"], by=people["admin"])


def test_assigning_the_enrolments_current_assessor_as_moderator_is_refused(people, sampled):
    enrolment = sampled.assessment.enrolment
    services.reassign_assessor(enrolment=enrolment, assessor=people["m2"], by=people["admin"])
    with pytest.raises(ValidationError, match="is the enrolment's assessor"):
        moderation.assign_moderator(sample=sampled, moderator=people["m2"], by=people["admin"])
    sampled.refresh_from_db()
    assert sampled.moderator == people["admin"]
