"""Issue 11 finding 5: amendments reconcile attempts, transcript and dashboards."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assessments import services
from assessments.models import Assessment
from tests.test_assessment import judge_all
from tests.test_reports import read_pdf, signed_off, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "candidate": make_user("cand", "candidate"),
    }


def signed(people, not_yet=()):
    """A signed-off BSBCUS501B attempt and the attempt it opened (None when competent)."""
    first = signed_off(people, "BSBCUS501B", not_yet)
    return first, first.enrolment.assessments.filter(attempt=2).first()


def text_of_pdf(response):
    return text_of(read_pdf(response))


def test_amending_to_competent_closes_the_open_resubmission(client, people):
    first, second = signed(people, not_yet={"2.2"})
    assert second.status == "open"
    outcome = services.amend_result(
        assessment=first, by=people["admin"], new_result="achieved", reason="2.2 was re-marked."
    )
    second.refresh_from_db()
    assert second.status == "closed"
    assert outcome.closed == [second] and outcome.opened is None
    assert "Attempt 2 is closed" in outcome.message
    # Recorded in both attempts' histories.
    closing = second.audit.get(action="attempt closed")
    assert closing.after["because"] == {
        "attempt": 1,
        "amendment": outcome.amendment.pk,
        "result": "achieved",
    }
    assert first.audit.last().after["closed_attempts"] == [2]
    # Nothing more can be submitted for it.
    with pytest.raises(ValidationError, match="closed when an earlier result was amended"):
        services.submit_for_assessment(
            assessment=second, by=people["candidate"], declaration_accepted=True
        )

    # The candidate is told, on the closed attempt's page and on the amended one.
    client.force_login(people["candidate"])
    page = client.get(second.get_absolute_url()).content.decode()
    assert "This attempt was closed" in page
    assert "the result of attempt 1 was amended to Competent" in page
    page = client.get(first.get_absolute_url()).content.decode()
    assert "Competent</strong> (amended)" in page
    assert "Attempt 2 closed: no longer needed." in page
    # The dashboard and enrolment page show the amended result, and no submit button.
    home = client.get(reverse("home")).content.decode()
    assert "Competent (amended)." in home
    assert "Submit attempt 2" not in home
    enrolment = client.get(first.enrolment.get_absolute_url()).content.decode()
    assert "Closed" in enrolment and "Competent (amended)" in enrolment
    # The transcript shows Competent with the amendment, not "In progress".
    transcript = text_of_pdf(
        client.get(reverse("reports:transcript", args=[people["candidate"].pk]))
    )
    assert "Competent" in transcript and "amended" in transcript
    preview = client.get(reverse("reports:transcript_preview", args=[people["candidate"].pk]))
    assert '<td class="result"><strong>Competent</strong>' in preview.content.decode()


def test_amending_to_not_yet_competent_opens_the_next_attempt(client, people):
    first, _ = signed(people)
    outcome = services.amend_result(
        assessment=first,
        by=people["admin"],
        new_result="not_achieved",
        reason="The 2.2 log was another learner's.",
    )
    opened = outcome.opened
    assert opened.attempt == 2 and opened.status == "open"
    assert "Attempt 2 is open for resubmission" in outcome.message
    # Satisfactory judgements carry forward, as for a resubmission.
    carried = opened.judgements.filter(carried_forward=True)
    assert carried.count() == first.judgements.count()
    assert opened.audit.get(action="attempt opened").after["because"]["attempt"] == 1
    client.force_login(people["candidate"])
    home = client.get(reverse("home")).content.decode()
    assert "Submit attempt 2" in home
    page = client.get(first.get_absolute_url()).content.decode()
    assert "Attempt 2 opened for resubmission." in page
    # The record says it was amended, and the signed result.
    record = text_of_pdf(client.get(reverse("reports:assessment_record", args=[first.pk])))
    assert "Not yet competent" in record
    assert "Amended 1 time" in record and "signed off as Competent" in record


def test_amending_to_not_yet_competent_says_when_no_attempt_remains(people, settings):
    settings.ASSESSMENT_MAX_ATTEMPTS = 1
    first, _ = signed(people)
    outcome = services.amend_result(
        assessment=first, by=people["admin"], new_result="not_achieved", reason="Re-marked."
    )
    assert outcome.opened is None and not outcome.attempts_remain
    assert "No further attempt was opened: all 1 attempts have been used." in outcome.message
    assert Assessment.objects.filter(enrolment=first.enrolment).count() == 1
    assert first.audit.last().after["attempts_remain"] is False


def test_amending_back_and_forth_numbers_the_new_attempt_after_the_closed_one(people):
    first, second = signed(people, not_yet={"2.2"})
    services.amend_result(assessment=first, by=people["admin"], new_result="achieved", reason="a")
    outcome = services.amend_result(
        assessment=first, by=people["admin"], new_result="not_achieved", reason="b"
    )
    assert outcome.opened.attempt == 3
    second.refresh_from_db()
    assert second.status == "closed"


def test_an_attempt_superseded_by_a_later_sign_off_cannot_be_amended(people):
    first, second = signed(people, not_yet={"2.2"})
    services.submit_for_assessment(
        assessment=second, by=people["candidate"], declaration_accepted=True
    )
    judge_all(second, people["assessor"])
    services.sign_off(
        assessment=second, by=people["assessor"], feedback="", declaration_accepted=True
    )
    with pytest.raises(ValidationError, match="Attempt 2 has been signed off since"):
        services.amend_result(
            assessment=first, by=people["admin"], new_result="achieved", reason="x"
        )


def test_amendment_view_tells_the_administrator_what_happened(client, people):
    first, _ = signed(people, not_yet={"2.2"})
    client.force_login(people["admin"])
    response = client.post(
        reverse("assessments:amend", args=[first.pk]),
        {"new_result": "achieved", "reason": "Re-marked."},
        follow=True,
    )
    assert "Attempt 2 is closed: it is no longer needed." in response.content.decode()


# --- the history, in words (issue 11, issue 14 item 5) -------------------------------


def test_history_is_in_words_in_the_configured_zone(client, people, make_user):
    first, _ = signed(people, not_yet={"2.2"})
    services.amend_result(
        assessment=first, by=people["admin"], new_result="achieved", reason="2.2 was re-marked."
    )
    client.force_login(people["assessor"])
    page = client.get(first.get_absolute_url()).content.decode()
    latest = page[page.index('id="history-h"') :]
    # The attempt page: its latest changes and the way to the whole history.
    count = first.audit.count()
    assert f"The latest 5 of {count} changes." in latest
    assert "Result amended: Not yet competent → Competent" in latest
    assert "Performance criterion 1.1:" not in latest  # judged before the latest five
    history_url = reverse("assessments:assessment_history", args=[first.pk])
    assert f'href="{history_url}"' in latest
    history = client.get(history_url).content.decode()
    history = history[history.index("<h1") :]
    assert "When (Pacific/Auckland)" in history
    assert re.search(r"\d{2}:\d{2}:\d{2} NZ[DS]T", history)
    assert "Performance criterion 1.1: Not judged → Satisfactory" in history
    assert "Performance criterion 2.2: Not judged → Not yet satisfactory" in history
    assert "Methods: none → Observation" in history
    assert "Rules of evidence confirmed: valid, sufficient, authentic, current" in history
    assert "Signed off: Not yet competent" in history
    assert "Result amended: Not yet competent → Competent" in history
    assert "Attempt 2 closed: no longer needed" in history
    assert f"{count} entries, hash-chained" in history and first.audit.last().hash in history
    # No Python or JSON dumps.
    assert "{&#x27;" not in history and "{'" not in history and '{"' not in history
    # Candidates see the amendment but not the staff history.
    client.force_login(people["candidate"])
    page = client.get(first.get_absolute_url()).content.decode()
    assert 'id="history-h"' not in page
    assert "2.2 was re-marked." in page
    assert client.get(history_url).status_code == 404
