"""Cohorts at an institution's size: members a page at a time, enrolment in the background."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.tasks import default_task_backend
from django.tasks.base import TaskResultStatus
from django.urls import reverse
from django.utils import timezone

from assessments import cohorts, moderation, services
from assessments.models import Assessment, Cohort, CohortEnrolment, Enrolment, Judgement
from standards.models import PerformanceCriterion, Unit
from tests.tasks_support import DATABASE, use_task_backend

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "assessor2": make_user("assessor2", "assessor"),
    }


def cohort_of(make_user, size, name="Intake"):
    cohort = Cohort.objects.create(name=name)
    cohort.candidates.add(
        *(make_user(f"{name}-{i}", "candidate", last_name=f"Member {i:03}") for i in range(size))
    )
    return cohort


def run_worker(monkeypatch):
    # The worker closes stale connections between tasks; on PostgreSQL that would
    # close this test's connection and its open transaction.
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    call_command("run_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0")


def test_enrolling_a_cohort_writes_every_judgement_in_a_fixed_number_of_queries(
    people, make_user, django_assert_max_num_queries
):
    """The number of queries grows neither with the cohort nor with the unit's criteria.

    (Within one INSERT on SQLite, which splits a bulk insert at 999 parameters.)"""
    small, large = cohort_of(make_user, 2, "small"), cohort_of(make_user, 5, "large")
    counts = []
    for cohort, code in [(small, "57"), (large, "BSBCUS301B"), (large, "BSBCUS501B")]:
        unit = Unit.objects.get(code=code)
        # 11: one of them checks that the release is the current one.
        with django_assert_max_num_queries(11) as captured:
            services.enrol_cohort(
                cohort=cohort, unit=unit, assessor=people["assessor"], by=people["admin"]
            )
        counts.append(len(captured))
        criteria = PerformanceCriterion.objects.filter(outcome__unit=unit).count()
        members = cohort.candidates.count()
        attempts = Assessment.objects.filter(enrolment__unit=unit, enrolment__cohort=cohort)
        assert attempts.filter(attempt=1, status="open").count() == members
        assert Judgement.objects.filter(assessment__in=attempts).count() == members * criteria
    assert len(set(counts)) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's parameter limit")
def test_a_cohort_with_more_judgements_than_a_statement_has_parameters_is_one_insert(
    people, django_assert_max_num_queries
):
    """With server-side binding a statement has at most 65,535 parameters, 5,041 judgements
    of 13 columns; PostgreSQL takes the rows as one array a column (the project's backend)."""
    cohort = Cohort.objects.create(name="Large intake")
    cohort.candidates.add(
        *User.objects.bulk_create(
            User(username=f"member-{i}", role="candidate", last_name=f"Member {i:03}")
            for i in range(400)
        )
    )
    unit = Unit.objects.get(code="BSBCUS301B")
    with django_assert_max_num_queries(11) as captured:
        services.enrol_cohort(
            cohort=cohort, unit=unit, assessor=people["assessor"], by=people["admin"]
        )
    inserts = [q for q in captured if 'INSERT INTO "assessments_judgement"' in q["sql"]]
    assert len(inserts) == 1
    assert Judgement.objects.filter(assessment__enrolment__cohort=cohort).count() == 400 * 14


def test_cohort_enrolment_runs_in_the_worker_and_the_page_shows_its_progress(
    client, people, make_user, settings, monkeypatch
):
    use_task_backend(settings, DATABASE)
    cohort = cohort_of(make_user, 3)
    services.enrol(
        candidate=cohort.candidates.first(),
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    client.force_login(people["admin"])
    response = client.post(
        reverse("assessments:cohort_detail", args=[cohort.pk]),
        {"unit": Unit.objects.get(code="57").pk, "assessor": people["assessor2"].pk},
        follow=True,
    )
    page = response.content.decode()
    job = CohortEnrolment.objects.get()
    assert "Enrolling the cohort in US57; its progress is shown below." in page
    assert 'hx-trigger="every 2s"' in page and job.status == "queued"
    assert Enrolment.objects.filter(cohort=cohort).count() == 0

    run_worker(monkeypatch)
    job.refresh_from_db()
    assert (job.status, job.enrolled, job.skipped) == ("done", 2, 1)
    assert Enrolment.objects.filter(cohort=cohort, assessor=people["assessor2"]).count() == 2
    status = client.get(reverse("assessments:cohort_enrolment_status", args=[job.pk]))
    fragment = status.content.decode()
    assert "every 2s" not in fragment
    assert "US57: enrolled 2; 1 already enrolled, left as they were." in fragment


def test_a_cohort_enrolment_that_breaks_a_rule_fails_and_enrols_nobody(people, make_user, settings):
    use_task_backend(settings, DATABASE)
    cohort = cohort_of(make_user, 3)
    job = cohorts.request_enrolment(
        cohort=cohort,
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    people["assessor"].is_active = False
    people["assessor"].save()
    cohorts.run_enrolment(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "account is deactivated" in job.error
    assert not Enrolment.objects.exists()
    # Delivered again, the finished request is not run twice.
    assert cohorts.run_enrolment(job.pk) is None


def test_queued_reports_and_enrolments_are_all_worked_through_in_order(
    people, make_user, settings, monkeypatch
):
    """Several large jobs queued at once: each is run, oldest first; none waits forever."""
    use_task_backend(settings, DATABASE)
    moderator = make_user("mod", "assessor", is_moderator=True)
    cohort = cohort_of(make_user, 4)
    unit = Unit.objects.get(code="57")
    services.enrol_cohort(cohort=cohort, unit=unit, assessor=people["assessor"], by=people["admin"])
    for attempt in Assessment.objects.filter(enrolment__cohort=cohort):
        attempt.status, attempt.submitted_at = "submitted", attempt.created_at
        attempt.save()
        for judgement in attempt.judgements.all():
            judgement.verdict, judgement.comment = "not_yet", "More."
            judgement.save()
        services.sign_off(
            assessment=attempt, by=people["assessor"], feedback="More.", declaration_accepted=True
        )
    today = timezone.localdate(Assessment.objects.first().sign_off.signed_at)
    round_ = moderation.create_round(
        unit=unit, name="R", period_start=today, period_end=today, by=people["admin"]
    )
    moderation.draw_sample(round_=round_, by=people["admin"], moderators=[moderator])
    exports = [
        moderation.request_export(round_=round_, format=f, by=people["admin"])
        for f in ["pdf", "csv", "pdf"]
    ]
    job = cohorts.request_enrolment(
        cohort=cohort,
        unit=Unit.objects.get(code="BSBCUS301B"),
        assessor=people["assessor2"],
        by=people["admin"],
    )
    run_worker(monkeypatch)
    for export in exports:
        export.refresh_from_db()
    job.refresh_from_db()
    assert [e.status for e in exports] + [job.status] == ["done"] * 4
    started = [e.started_at for e in exports] + [job.started_at]
    assert started == sorted(started)
    assert default_task_backend.get_result(job.task_result_id).status == (
        TaskResultStatus.SUCCESSFUL
    )


def test_members_are_found_added_and_removed_on_the_cohort_page(client, people, make_user):
    cohort = cohort_of(make_user, 2)
    outsider = make_user("aroha", "candidate", first_name="Aroha", last_name="Ngata")
    make_user("aroha-assessor", "assessor", first_name="Aroha")
    client.force_login(people["admin"])
    url = reverse("assessments:cohort_detail", args=[cohort.pk])
    found = client.get(url, {"q": "aroha"}).context["found"]
    assert list(found) == [outsider]  # candidates only, and not those already in it
    members = reverse("assessments:cohort_members", args=[cohort.pk])
    client.post(members, {"candidate": outsider.pk})
    assert cohort.candidates.filter(pk=outsider.pk).exists()
    page = client.get(url).content.decode()
    # The Remove button posts its candidate in the page's one removal form.
    start = page.index(f'action="{members}"')
    removal = page[start : page.index("</form>", start)]
    assert 'name="action" value="remove"' in removal
    assert f'name="candidate" value="{outsider.pk}"' in removal
    response = client.post(members, {"candidate": outsider.pk, "action": "remove"}, follow=True)
    assert (
        "Removed Aroha Ngata from Intake. Their enrolments are kept." in response.content.decode()
    )
    assert cohort.candidates.count() == 2
    assessor = people["assessor"]
    assert client.post(members, {"candidate": assessor.pk}).status_code == 404


def test_cohort_pages_make_a_fixed_number_of_queries(
    client, people, make_user, django_assert_max_num_queries
):
    client.force_login(people["admin"])
    unit = Unit.objects.get(code="57")

    def visit(cohort):
        with django_assert_max_num_queries(6):
            assert client.get(reverse("assessments:cohort_list")).status_code == 200
        with django_assert_max_num_queries(11):
            response = client.get(
                reverse("assessments:cohort_detail", args=[cohort.pk]), {"q": "member"}
            )
        assert response.status_code == 200
        return response

    small = cohort_of(make_user, 2, "small")
    services.enrol_cohort(cohort=small, unit=unit, assessor=people["assessor"], by=people["admin"])
    cohorts.request_enrolment(
        cohort=small, unit=unit, assessor=people["assessor"], by=people["admin"]
    )
    visit(small)
    large = cohort_of(make_user, 60, "large")
    services.enrol_cohort(cohort=large, unit=unit, assessor=people["assessor"], by=people["admin"])
    for i in range(3):
        Cohort.objects.create(name=f"Other {i}")
    response = visit(large)
    assert len(response.context["members"]) == 25
    assert response.context["members"].paginator.count == 60
    assert len(response.context["enrolments"]) == 25
    listing = client.get(reverse("assessments:cohort_list")).context["page"]
    counts = {c.name: (c.candidate_count, c.enrolled, c.submitted, c.achieved) for c in listing}
    assert counts["large"] == (60, 60, 0, 0) and counts["small"] == (2, 2, 0, 0)
