"""Notifications: each event tells exactly the right people, once, in the portal and by e-mail."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from assessments import moderation, services
from assessments.models import Enrolment
from notifications.models import DueReminder, EmailOptOut, Kind, Notification
from notifications.reminders import send_due_reminders
from notifications.services import mark_read, set_emailed_kinds
from standards.models import Unit
from tests.tasks_support import IMMEDIATE, use_task_backend
from tests.test_assessment import add_evidence, judge_all
from tests.test_moderation import new_round, quick_attempt

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_tasks(settings):
    use_task_backend(settings, IMMEDIATE)
    settings.PORTAL_URL = "https://portal.example.ac.nz"


@pytest.fixture
def people(make_user):
    def person(username, role, **extra):
        return make_user(
            username, role, email=f"{username}@example.ac.nz", first_name=username.title(), **extra
        )

    return {
        "admin": person("admin", "administrator"),
        "assessor": person("assessor", "assessor"),
        "other": person("other", "assessor"),
        "moderator": person("moderator", "assessor", is_moderator=True),
        "candidate": person("cand", "candidate"),
        "bystander": person("bystander", "candidate"),
    }


@pytest.fixture
def events(django_capture_on_commit_callbacks):
    """Run a step and return the e-mails it sent (tasks run once the step commits)."""

    def run(step):
        before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            result = step()
        return result, mail.outbox[before:]

    return run


def enrolled(people, unit_code="57", **extra):
    return services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code=unit_code),
        assessor=people["assessor"],
        by=people["admin"],
        **extra,
    )


def submit(people, enrolment):
    add_evidence(people["candidate"], enrolment.unit.code, ["1.1", "1.2"])
    return services.submit_for_assessment(
        assessment=enrolment.assessments.get(status="open"),
        by=people["candidate"],
        declaration_accepted=True,
    )


def sign(people, attempt, not_yet=()):
    judge_all(attempt, people["assessor"], not_yet=not_yet)
    return services.sign_off(
        assessment=attempt,
        by=people["assessor"],
        feedback="Show 1.1 with a real customer." if not_yet else "",
        declaration_accepted=True,
    )


def recipients(messages):
    return sorted(address for message in messages for address in message.to)


def test_submission_tells_the_assessor_only(people, events):
    enrolment = enrolled(people)
    attempt, sent = events(lambda: submit(people, enrolment))
    assert recipients(sent) == ["assessor@example.ac.nz"]
    (message,) = sent
    assert "Cand submitted US57" in message.subject
    link = f"https://portal.example.ac.nz{attempt.get_absolute_url()}"
    notification = Notification.objects.get(recipient=people["assessor"])
    assert f"https://portal.example.ac.nz/notifications/{notification.pk}/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "Open it in the Assessment Portal" in html
    assert notification.kind == Kind.SUBMITTED and notification.url == link.removeprefix(
        "https://portal.example.ac.nz"
    )
    assert notification.email == Notification.Email.SENT
    assert Notification.objects.exclude(recipient=people["assessor"]).count() == 0


def test_sign_off_tells_the_candidate_their_result(people, events):
    attempt = submit(people, enrolled(people))
    (_, next_attempt), sent = events(lambda: sign(people, attempt))
    assert next_attempt is None
    assert recipients(sent) == ["cand@example.ac.nz"]
    assert sent[0].subject == "Your result for US57: Achieved"
    assert "feedback on each criterion" in sent[0].body


def test_not_yet_result_tells_the_candidate_and_opens_the_resubmission(people, events):
    attempt = submit(people, enrolled(people))
    (_, next_attempt), sent = events(lambda: sign(people, attempt, not_yet=["1.1"]))
    assert recipients(sent) == ["cand@example.ac.nz", "cand@example.ac.nz"]
    subjects = sorted(message.subject for message in sent)
    assert subjects == ["Attempt 2 of US57 is open", "Your result for US57: Not achieved"]
    reopened = Notification.objects.get(kind=Kind.RESUBMISSION)
    assert reopened.url == next_attempt.get_absolute_url()
    assert "1 criteria still need evidence" in reopened.body


def test_amendment_tells_candidate_and_assessor_but_not_the_administrator_who_made_it(
    people, events
):
    attempt = submit(people, enrolled(people))
    sign(people, attempt)
    _, sent = events(
        lambda: services.amend_result(
            assessment=attempt, by=people["admin"], new_result="not_achieved", reason="Typo."
        )
    )
    amended = [m for m in sent if m.subject.startswith("Result amended")]
    assert recipients(amended) == ["assessor@example.ac.nz", "cand@example.ac.nz"]
    assert "from Achieved to Not achieved. Reason: Typo." in amended[0].body
    assert not Notification.objects.filter(recipient=people["admin"]).exists()


def test_moderation_tells_the_moderator_once_per_draw_and_the_assessor_of_the_outcome(
    people, make_user, events
):
    attempts = [
        quick_attempt(make_user(f"c{i}", "candidate"), people["assessor"]) for i in range(2)
    ]
    round_ = new_round({"admin": people["admin"]})
    samples, sent = events(
        lambda: moderation.pick_sample(
            round_=round_,
            by=people["admin"],
            assessments=attempts,
            moderators=[people["moderator"]],
        )
    )
    assert recipients(sent) == ["moderator@example.ac.nz"]
    assert sent[0].subject == f"2 decisions to moderate in {round_.name}"
    sample = samples[0]
    criteria = {j.pk: (True, "") for j in sample.assessment.judgements.all()}
    _, sent = events(
        lambda: moderation.submit_review(
            sample=sample,
            by=people["moderator"],
            criteria=criteria,
            agrees_with_result=True,
            recommendation="",
        )
    )
    assert recipients(sent) == ["assessor@example.ac.nz"]
    assert "agrees with the result" in sent[0].body
    assert Notification.objects.get(kind=Kind.MODERATED).url == reverse(
        "moderation:decision", args=[sample.pk]
    )


def test_reassigning_a_sample_tells_the_new_moderator(people, make_user, events):
    make_user("m2", "assessor", is_moderator=True, email="m2@example.ac.nz")
    attempt = quick_attempt(make_user("c1", "candidate"), people["assessor"])
    round_ = new_round({"admin": people["admin"]})
    (sample,) = moderation.pick_sample(
        round_=round_, by=people["admin"], assessments=[attempt], moderators=[people["moderator"]]
    )
    m2 = type(people["admin"]).objects.get(username="m2")
    _, sent = events(
        lambda: moderation.assign_moderator(sample=sample, moderator=m2, by=people["admin"])
    )
    assert recipients(sent) == ["m2@example.ac.nz"]


def test_opting_out_stops_that_kind_of_email_but_keeps_the_notification(people, events):
    set_emailed_kinds(
        people["assessor"],
        [
            k
            for k in Kind
            if k != Kind.SUBMITTED
            and k in {Kind.MODERATED, Kind.AMENDED, Kind.DUE_SOON, Kind.OVERDUE}
        ],
    )
    assert EmailOptOut.objects.filter(user=people["assessor"], kind=Kind.SUBMITTED).exists()
    enrolment = enrolled(people)
    _, sent = events(lambda: submit(people, enrolment))
    assert sent == []
    notification = Notification.objects.get(recipient=people["assessor"])
    assert notification.email == Notification.Email.NOT_SENT
    people["assessor"].refresh_from_db()
    assert people["assessor"].unread_notifications == 1


def test_nothing_is_sent_when_the_event_rolls_back(people, events):
    enrolment = enrolled(people)

    def refused():
        with pytest.raises(Exception, match="declaration"):
            services.submit_for_assessment(
                assessment=enrolment.assessments.get(),
                by=people["candidate"],
                declaration_accepted=False,
            )

    _, sent = events(refused)
    assert sent == [] and not Notification.objects.exists()


def test_due_reminders_go_to_candidate_and_assessor_once_per_threshold(people, events):
    today = timezone.localdate()
    soon = enrolled(people, due_date=today + timedelta(days=7))
    late = services.enrol(
        candidate=people["bystander"],
        unit=Unit.objects.get(code="BSBCUS301B"),
        assessor=people["other"],
        by=people["admin"],
        due_date=today - timedelta(days=1),
    )
    services.enrol(  # not due for a while: no reminder
        candidate=people["candidate"],
        unit=Unit.objects.get(code="BSBCUS501B"),
        assessor=people["assessor"],
        by=people["admin"],
        due_date=today + timedelta(days=8),
    )
    counts, sent = events(lambda: send_due_reminders(today))
    assert counts == {Kind.DUE_SOON: 1, Kind.OVERDUE: 1}
    assert recipients(sent) == sorted(
        [
            "assessor@example.ac.nz",
            "cand@example.ac.nz",
            "bystander@example.ac.nz",
            "other@example.ac.nz",
        ]
    )
    subjects = {m.subject for m in sent}
    assert f"US57 is due on {soon.due_date:%-d %B %Y}" in subjects
    assert f"BSBCUS301B is overdue (due {late.due_date:%-d %B %Y})" in subjects
    # Running again (the scheduler retries, or runs twice a day) sends nothing more.
    counts, sent = events(lambda: send_due_reminders(today))
    assert counts == {Kind.DUE_SOON: 0, Kind.OVERDUE: 0} and sent == []
    # Eight days on, US57 is overdue and BSBCUS501B due today: one reminder each, by threshold.
    counts, sent = events(lambda: send_due_reminders(today + timedelta(days=8)))
    assert counts == {Kind.DUE_SOON: 1, Kind.OVERDUE: 1}
    assert {m.subject for m in sent} == {
        f"US57 is overdue (due {soon.due_date:%-d %B %Y})",
        f"BSBCUS501B is due on {(today + timedelta(days=8)):%-d %B %Y}",
    }
    assert DueReminder.objects.count() == 4


def test_achieved_and_withdrawn_enrolments_get_no_reminders(people, events):
    today = timezone.localdate()
    enrolment = enrolled(people, due_date=today - timedelta(days=3))
    sign(people, submit(people, enrolment))
    withdrawn = services.enrol(
        candidate=people["bystander"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
        due_date=today,
    )
    Enrolment.objects.filter(pk=withdrawn.pk).update(status=Enrolment.Status.WITHDRAWN)
    counts, sent = events(lambda: send_due_reminders(today))
    assert counts == {Kind.DUE_SOON: 0, Kind.OVERDUE: 0} and sent == []


def test_reminder_command_is_idempotent(people, capsys):
    enrolled(people, due_date=timezone.localdate() + timedelta(days=2))
    call_command("send_due_reminders")
    assert "Reminded 1 enrolments due soon and 0 overdue." in capsys.readouterr().out
    call_command("send_due_reminders")
    assert "Reminded 0 enrolments due soon and 0 overdue." in capsys.readouterr().out
    assert Notification.objects.filter(kind=Kind.DUE_SOON).count() == 2


def test_navbar_counts_unread_and_opening_marks_read(client, people):
    submit(people, enrolled(people))
    client.force_login(people["assessor"])
    page = client.get(reverse("notifications:list")).content.decode()
    assert '1<span class="visually-hidden"> unread</span>' in page
    assert "Cand submitted US57 for judgement" in page
    notification = Notification.objects.get()
    response = client.get(notification.get_absolute_url())
    assert response.status_code == 302 and response.url == notification.url
    notification.refresh_from_db()
    assert notification.read_at is not None
    people["assessor"].refresh_from_db()
    assert people["assessor"].unread_notifications == 0
    # Opening it again does not push the count below zero.
    mark_read(notification)
    people["assessor"].refresh_from_db()
    assert people["assessor"].unread_notifications == 0
    assert " unread</span>" not in client.get(reverse("home")).content.decode()


def test_mark_all_read(client, people):
    sign(people, submit(people, enrolled(people)), not_yet=["1.1"])
    client.force_login(people["candidate"])
    people["candidate"].refresh_from_db()
    assert people["candidate"].unread_notifications == 2
    response = client.post(reverse("notifications:mark_all_read"), follow=True)
    assert "Marked 2 notifications as read." in response.content.decode()
    people["candidate"].refresh_from_db()
    assert people["candidate"].unread_notifications == 0


def test_someone_elses_notification_is_404(client, people):
    submit(people, enrolled(people))
    notification = Notification.objects.get()
    for who in ("candidate", "other", "admin"):
        client.force_login(people[who])
        assert client.get(notification.get_absolute_url()).status_code == 404
        assert (
            notification.subject not in client.get(reverse("notifications:list")).content.decode()
        )
    notification.refresh_from_db()
    assert notification.read_at is None


def test_pages_need_login(client):
    for name in ("notifications:list", "notifications:settings"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response.url
    assert client.post(reverse("notifications:mark_all_read")).status_code == 302


def test_email_settings_page_offers_the_kinds_for_the_role(client, people):
    client.force_login(people["candidate"])
    page = client.get(reverse("notifications:settings")).content.decode()
    assert Kind.SIGNED_OFF.label in page and Kind.SUBMITTED.label not in page
    response = client.post(
        reverse("notifications:settings"), {"kinds": [Kind.SIGNED_OFF, Kind.AMENDED]}, follow=True
    )
    assert "Your e-mail settings are saved." in response.content.decode()
    assert set(
        EmailOptOut.objects.filter(user=people["candidate"]).values_list("kind", flat=True)
    ) == {Kind.RESUBMISSION, Kind.DUE_SOON, Kind.OVERDUE}
    # A kind that does not apply to candidates is refused, changing nothing.
    response = client.post(reverse("notifications:settings"), {"kinds": [Kind.SUBMITTED]})
    assert "is not one of the available choices" in response.content.decode()
    assert EmailOptOut.objects.filter(user=people["candidate"]).count() == 3
    # Turning it back on: the candidate is e-mailed again.
    client.post(
        reverse("notifications:settings"),
        {
            "kinds": [
                k.value
                for k in Kind
                if k
                in {Kind.SIGNED_OFF, Kind.RESUBMISSION, Kind.AMENDED, Kind.DUE_SOON, Kind.OVERDUE}
            ]
        },
    )
    assert not EmailOptOut.objects.filter(user=people["candidate"]).exists()


def test_list_query_count_does_not_grow(client, people, django_assert_max_num_queries):
    client.force_login(people["assessor"])
    with django_assert_max_num_queries(5):
        client.get(reverse("notifications:list"))
    for i in range(30):
        Notification.objects.create(
            recipient=people["assessor"], kind=Kind.SUBMITTED, subject=f"N{i}", body="b", url="/"
        )
    with django_assert_max_num_queries(5):
        page = client.get(reverse("notifications:list")).content.decode()
    assert "Page 1 of 2" in page
