import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from assessments import services
from assessments.models import Cohort, Enrolment
from standards.models import Unit
from tests.tasks_support import IMMEDIATE, use_task_backend

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "c1": make_user("c1", "candidate"),
        "c2": make_user("c2", "candidate"),
        "c3": make_user("c3", "candidate"),
    }


def test_enrol_rejects_wrong_roles_and_duplicates(people):
    unit = Unit.objects.get(code="57")
    with pytest.raises(ValidationError, match="is not an assessor"):
        services.enrol(candidate=people["c1"], unit=unit, assessor=people["c2"], by=people["admin"])
    with pytest.raises(ValidationError, match="is not a candidate"):
        services.enrol(
            candidate=people["assessor"], unit=unit, assessor=people["assessor"], by=people["admin"]
        )
    services.enrol(
        candidate=people["c1"], unit=unit, assessor=people["assessor"], by=people["admin"]
    )
    with pytest.raises(ValidationError, match="already enrolled in US57"):
        services.enrol(
            candidate=people["c1"], unit=unit, assessor=people["assessor"], by=people["admin"]
        )
    assert Enrolment.objects.count() == 1


def test_enrol_cohort_skips_those_already_enrolled(people):
    unit = Unit.objects.get(code="BSBCUS301B")
    cohort = Cohort.objects.create(name="AU intake")
    cohort.candidates.add(people["c1"], people["c2"], people["c3"])
    services.enrol(
        candidate=people["c2"], unit=unit, assessor=people["assessor"], by=people["admin"]
    )
    enrolled, skipped = services.enrol_cohort(
        cohort=cohort, unit=unit, assessor=people["assessor"], by=people["admin"]
    )
    assert {c.username for c in enrolled} == {"c1", "c3"}
    assert [c.username for c in skipped] == ["c2"]
    assert Enrolment.objects.filter(unit=unit, cohort=cohort).count() == 2


def test_enrol_empty_cohort_is_refused(people):
    cohort = Cohort.objects.create(name="Empty")
    with pytest.raises(ValidationError, match="has no active candidates"):
        services.enrol_cohort(
            cohort=cohort,
            unit=Unit.objects.get(code="57"),
            assessor=people["assessor"],
            by=people["admin"],
        )


def test_admin_enrols_a_candidate_through_the_page(client, people):
    client.force_login(people["admin"])
    unit = Unit.objects.get(code="BSBCUS501B")
    response = client.post(
        reverse("assessments:enrolment_create"),
        {"candidate": people["c1"].pk, "unit": unit.pk, "assessor": people["assessor"].pk},
    )
    enrolment = Enrolment.objects.get(candidate=people["c1"], unit=unit)
    assert response["Location"] == enrolment.get_absolute_url()
    assert enrolment.enrolled_by == people["admin"]
    again = client.post(
        reverse("assessments:enrolment_create"),
        {"candidate": people["c1"].pk, "unit": unit.pk, "assessor": people["assessor"].pk},
    )
    assert again.status_code == 200
    assert "already enrolled in BSBCUS501B" in again.content.decode()


def test_admin_enrols_a_whole_cohort_through_the_page(client, people, settings):
    use_task_backend(settings, IMMEDIATE)
    cohort = Cohort.objects.create(name="NZ intake")
    cohort.candidates.add(people["c1"], people["c2"])
    client.force_login(people["admin"])
    response = client.post(
        reverse("assessments:cohort_detail", args=[cohort.pk]),
        {"unit": Unit.objects.get(code="57").pk, "assessor": people["assessor"].pk},
        follow=True,
    )
    assert "Enrolled 2 candidates in US57." in response.content.decode()
    assert Enrolment.objects.filter(cohort=cohort).count() == 2


def test_enrolment_list_query_count_does_not_grow(client, people, django_assert_max_num_queries):
    unit = Unit.objects.get(code="57")
    client.force_login(people["admin"])

    def load():
        with django_assert_max_num_queries(7):
            client.get(reverse("assessments:enrolment_list"))

    services.enrol(
        candidate=people["c1"], unit=unit, assessor=people["assessor"], by=people["admin"]
    )
    load()
    for name in ["c2", "c3"]:
        services.enrol(
            candidate=people[name], unit=unit, assessor=people["assessor"], by=people["admin"]
        )
    load()


def test_seed_demo_is_idempotent_and_refused_without_debug(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")
    assert Enrolment.objects.count() == 5
    assert Cohort.objects.count() == 2
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG=1"):
        call_command("seed_demo")


def test_demo_login_works(client, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    response = client.post(
        reverse("login"), {"username": "candidate", "password": "demo-portal-2026"}, follow=True
    )
    assert response.context["user"].username == "candidate"
    assert "My units" in response.content.decode()


def test_pages_of_a_filtered_list_keep_the_filter(client, people, make_user):
    unit = Unit.objects.get(code="57")
    for i in range(51):
        services.enrol(
            candidate=make_user(f"p{i}"), unit=unit, assessor=people["assessor"], by=people["admin"]
        )
    client.force_login(people["admin"])
    page = client.get(reverse("assessments:enrolment_list"), {"unit": "57"}).content.decode()
    assert 'href="?unit=57&amp;page=2">Next</a>' in page
    second = client.get(reverse("assessments:enrolment_list"), {"unit": "57", "page": 2})
    assert len(second.context["page"]) == 1


def test_enrol_page_finds_the_candidate_instead_of_listing_everyone(
    client, people, make_user, django_assert_max_num_queries
):
    make_user("aroha", "candidate", first_name="Aroha", last_name="Ngata")
    mine, other = Cohort.objects.create(name="Mine"), Cohort.objects.create(name="Other")
    mine.candidates.add(people["c1"])
    client.force_login(people["admin"])
    url = reverse("assessments:enrolment_create")
    page = client.get(url).content.decode()
    assert "aroha" not in page.lower() and "c1" not in page  # nobody listed until searched
    found = client.get(url, {"q": "ngata"}).context["found"]
    assert [c.username for c in found] == ["aroha"]
    for _ in range(2):
        with django_assert_max_num_queries(7):
            response = client.get(url, {"candidate": people["c1"].pk})
        make_user(f"more{_}", "candidate")
    cohorts = list(response.context["form"].fields["cohort"].queryset)
    assert cohorts == [mine] and other not in cohorts
    assert "Enrolling <strong>c1</strong>" in response.content.decode()
    response = client.post(url, {"unit": Unit.objects.get(code="57").pk})
    assert "Find and choose a candidate first." in response.content.decode()


def test_lists_filter_by_part_of_a_cohort_name_not_a_list_of_every_cohort(client, people):
    unit = Unit.objects.get(code="57")
    for name, candidate in [("2026 Retail intake", "c1"), ("2026 Hospitality", "c2")]:
        cohort = Cohort.objects.create(name=name)
        services.enrol(
            candidate=people[candidate],
            unit=unit,
            assessor=people["assessor"],
            by=people["admin"],
            cohort=cohort,
        )
    client.force_login(people["admin"])
    url = reverse("assessments:enrolment_list")
    assert "<option" not in client.get(url).content.decode().split("filter-cohort")[1][:200]
    page = client.get(url, {"cohort": "retail"}).context["page"]
    assert [e.candidate.username for e in page] == ["c1"]
    client.force_login(people["assessor"])
    queue = client.get(reverse("assessments:queue"), {"cohort": "hospitality"})
    assert queue.status_code == 200 and list(queue.context["page"]) == []
