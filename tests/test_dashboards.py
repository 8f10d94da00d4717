import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from assessments import services
from assessments.models import Cohort, Enrolment
from standards.models import Unit

from .test_assessment import add_evidence, judge_all
from .test_moderation import new_round, quick_attempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "candidate": make_user("cand", "candidate", first_name="Tama"),
    }


def enrol(people, code, candidate=None, **extra):
    return services.enrol(
        candidate=candidate or people["candidate"],
        unit=Unit.objects.get(code=code),
        assessor=people["assessor"],
        by=people["admin"],
        **extra,
    )


def test_candidate_dashboard_shows_coverage_and_next_step(client, people):
    enrol(people, "57")
    enrol(people, "BSBCUS301B")
    add_evidence(people["candidate"], "57", ["1.1", "1.2", "2.1"])
    client.force_login(people["candidate"])
    response = client.get(reverse("home"))
    by_code = {e.unit.code: e for e in response.context["enrolments"]}
    assert (by_code["57"].criteria_covered, by_code["57"].criteria_total) == (3, 12)
    assert by_code["57"].next_step == "Map evidence to 9 more criteria, then submit."
    assert (by_code["BSBCUS301B"].criteria_covered, by_code["BSBCUS301B"].criteria_total) == (0, 14)
    assert "Kia ora, Tama" in response.content.decode()


def test_candidate_next_step_follows_the_attempt(client, people):
    enrolment = enrol(people, "57")
    add_evidence(people["candidate"], "57", ["1.1"])
    attempt = services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=people["candidate"], declaration_accepted=True
    )
    client.force_login(people["candidate"])
    [shown] = client.get(reverse("home")).context["enrolments"]
    assert shown.next_step == "Attempt 1 is with your assessor."
    judge_all(attempt, people["assessor"], not_yet={"3.3"})
    services.sign_off(
        assessment=attempt, by=people["assessor"], feedback="One more.", declaration_accepted=True
    )
    [shown] = client.get(reverse("home")).context["enrolments"]
    assert shown.next_step.startswith("Resubmission")


def test_assessor_dashboard_counts_waiting_and_recent_decisions(client, people, make_user):
    for i in range(3):
        candidate = make_user(f"c{i}")
        enrolment = enrol(people, "57", candidate=candidate)
        add_evidence(candidate, "57", ["1.1"])
        services.submit_for_assessment(
            assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
        )
    client.force_login(people["assessor"])
    response = client.get(reverse("home"))
    assert response.context["waiting_total"] == 3
    content = response.content.decode()
    assert "Awaiting judgement: 3" in content
    assert "US57 Provide customer service" in content


def test_administrator_dashboard_lists_overdue_and_cohorts(
    client, people, make_user, django_assert_max_num_queries
):
    cohort = Cohort.objects.create(name="Intake A")
    cohort.candidates.add(people["candidate"])
    enrol(people, "57", cohort=cohort, due_date=datetime.date(2020, 1, 1))
    waiting = enrol(people, "57", candidate=make_user("waiting"), cohort=cohort)
    waiting.assessments.update(status="submitted", submitted_at=timezone.now())
    achieved = make_user("achieved")
    quick_attempt(achieved, people["assessor"])
    Enrolment.objects.filter(candidate=achieved).update(cohort=cohort)
    client.force_login(people["admin"])
    with django_assert_max_num_queries(9):
        response = client.get(reverse("home"))
    content = response.content.decode()
    row = '<td><a href="/cohorts/{}/">Intake A</a></td><td>3</td><td>1</td><td>1</td>'
    assert row.format(cohort.pk) in content
    assert "due 1 Jan 2020" in content
    assert "No moderation rounds yet." in content
    # The cohort list counts the same, beside the cohort's candidates.
    listing = client.get(reverse("assessments:cohort_list")).content.decode()
    assert row.format(cohort.pk).replace("<td>3</td>", "<td>1</td><td>3</td>") in listing


def test_dashboards_make_a_fixed_number_of_queries_and_show_the_newest_cohorts(
    client, people, make_user, django_assert_max_num_queries
):
    def visit():
        for who, queries in [("admin", 9), ("assessor", 6), ("candidate", 5)]:
            client.force_login(people[who])
            with django_assert_max_num_queries(queries):
                response = client.get(reverse("home"))
            assert response.status_code == 200
        return response

    def decided(name, result):
        quick_attempt(make_user(name), people["assessor"], result=result)

    overdue = datetime.date(2020, 1, 1)
    enrol(people, "57", due_date=overdue)
    add_evidence(people["candidate"], "57", ["1.1"])
    Cohort.objects.create(name="Intake 0")
    decided("d0", "achieved")
    new_round(people)
    visit()
    for i in range(1, 25):
        cohort = Cohort.objects.create(name=f"Intake {i:02}")
        candidate = make_user(f"c{i}")
        cohort.candidates.add(candidate)
        enrol(people, "BSBCUS301B", candidate=candidate, cohort=cohort, due_date=overdue)
        add_evidence(candidate, "BSBCUS301B", ["1.1", "1.2"])
        decided(f"d{i}", "not_achieved")
    new_round(people)
    enrol(people, "BSBCUS301B")
    add_evidence(people["candidate"], "BSBCUS301B", ["1.1", "1.2", "1.3"])
    shown = {e.unit.code: e for e in visit().context["enrolments"]}
    assert (shown["BSBCUS301B"].criteria_covered, shown["BSBCUS301B"].criteria_total) == (3, 14)
    client.force_login(people["admin"])
    response = client.get(reverse("home"))
    assert len(response.context["overdue"]) == 10 and len(response.context["recent"]) == 10
    assert 'href="/enrolments/?overdue=1">All overdue enrolments</a>' in response.content.decode()
    assert len(response.context["rounds"]) == 2
    # The ten newest cohorts, newest first, and a way to all 25.
    cohorts = response.context["cohorts"]
    assert [c.name for c in cohorts] == [f"Intake {i:02}" for i in range(24, 14, -1)]
    assert [(c.enrolled, c.submitted, c.achieved) for c in cohorts] == [(1, 0, 0)] * 10
    assert 'href="/cohorts/">All cohorts</a>' in response.content.decode()


def test_all_overdue_enrolments_most_overdue_first_without_achieved_or_withdrawn(
    client, people, make_user
):
    late = enrol(people, "57", due_date=datetime.date(2020, 3, 1))
    later = enrol(people, "BSBCUS301B", due_date=datetime.date(2020, 1, 1))
    enrol(people, "BSBCUS501B", due_date=datetime.date(2999, 1, 1))
    achieved = quick_attempt(make_user("done"), people["assessor"], result="achieved")
    achieved.enrolment.due_date = datetime.date(2020, 2, 1)
    achieved.enrolment.save(update_fields=["due_date"])
    url = reverse("assessments:enrolment_list")
    for who in ["admin", "assessor", "candidate"]:
        client.force_login(people[who])
        shown = list(client.get(url, {"overdue": "1"}).context["page"])
        assert shown == [later, late]
    client.force_login(people["admin"])
    page = client.get(url, {"overdue": "1"}).content.decode()
    assert 'id="filter-overdue" name="overdue" value="1" checked' in page
    assert len(client.get(url).context["page"]) == 4
