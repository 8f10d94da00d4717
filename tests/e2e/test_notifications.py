"""A candidate hears that their result is ready, in the navbar, and reads the feedback."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from assessments import services
from standards.models import Unit

from ..test_assessment import add_evidence, judge_all
from .conftest import log_in, serious_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_candidate_sees_the_notification_and_the_feedback(page, make_user):
    candidate = make_user("tama", "candidate", first_name="Tama", email="tama@example.ac.nz")
    assessor = make_user("sam", "assessor", first_name="Sam")
    enrolment = services.enrol(
        candidate=candidate,
        unit=Unit.objects.get(code="57"),
        assessor=assessor,
        by=make_user("aroha", "administrator"),
        due_date=timezone.localdate(),
    )
    add_evidence(candidate, "57", ["1.1", "1.2"])
    attempt = services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
    )
    judge_all(attempt, assessor, not_yet=["1.1"])
    services.sign_off(
        assessment=attempt,
        by=assessor,
        feedback="Show 1.1 with a real customer next time.",
        declaration_accepted=True,
    )

    log_in(page, "tama")
    bell = page.get_by_role("link", name="Notifications 2 unread")
    expect(bell).to_be_visible()
    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("link", name="Your result for US57: Not achieved").click()
    expect(page).to_have_url(f"{page.url.split('/assessments')[0]}{attempt.get_absolute_url()}")
    expect(page.get_by_text("Show 1.1 with a real customer next time.")).to_be_visible()
    expect(page.get_by_role("link", name="Notifications 1 unread")).to_be_visible()

    page.get_by_role("link", name="Notifications 1 unread").click()
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
