"""Every URL against every role: what is not yours is 404, anonymous is sent to log in.

Later pages add rows to URLS; each row says which roles may see the page.
"""

import pytest
from django.urls import reverse

from assessments.models import Cohort, Enrolment
from standards.models import Unit

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "candidate_a", "candidate_b", "assessor_in", "assessor_out", "administrator"]
EVERYONE = set(ROLES) - {"anonymous"}
OWNERS = {"candidate_a", "assessor_in", "administrator"}
ADMIN = {"administrator"}


@pytest.fixture
def world(make_user):
    people = {
        "candidate_a": make_user("cand_a", "candidate"),
        "candidate_b": make_user("cand_b", "candidate"),
        "assessor_in": make_user("ass_in", "assessor"),
        "assessor_out": make_user("ass_out", "assessor"),
        "administrator": make_user("admin", "administrator"),
    }
    cohort = Cohort.objects.create(name="Intake")
    cohort.candidates.add(people["candidate_a"])
    enrolment = Enrolment.objects.create(
        candidate=people["candidate_a"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor_in"],
        cohort=cohort,
    )
    # candidate B and assessor out have an enrolment of their own, so "not yours"
    # is tested against users who do have data.
    Enrolment.objects.create(
        candidate=people["candidate_b"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor_out"],
    )
    return {"people": people, "enrolment": enrolment, "cohort": cohort}


URLS = [
    # (name, args from world, roles that get 200)
    ("assessments:enrolment_list", lambda w: [], EVERYONE),
    ("assessments:enrolment_detail", lambda w: [w["enrolment"].pk], OWNERS),
    ("assessments:enrolment_create", lambda w: [], ADMIN),
    ("assessments:enrolment_reassign", lambda w: [w["enrolment"].pk], ADMIN),
    ("assessments:cohort_list", lambda w: [], ADMIN),
    ("assessments:cohort_create", lambda w: [], ADMIN),
    ("assessments:cohort_detail", lambda w: [w["cohort"].pk], ADMIN),
    ("assessments:cohort_edit", lambda w: [w["cohort"].pk], ADMIN),
    ("standards:unit_list", lambda w: [], EVERYONE),
    ("standards:unit_detail", lambda w: ["BSBCUS301B"], EVERYONE),
    ("user_list", lambda w: [], ADMIN),
    ("user_create", lambda w: [], ADMIN),
    ("user_edit", lambda w: [w["people"]["candidate_a"].pk], ADMIN),
    ("candidate_import", lambda w: [], ADMIN),
    ("password_change", lambda w: [], EVERYONE),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "args", "allowed"), URLS, ids=[u[0] for u in URLS])
def test_every_url_for_every_role(client, world, role, name, args, allowed):
    url = reverse(name, args=args(world))
    if role != "anonymous":
        client.force_login(world["people"][role])
    response = client.get(url)
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    elif role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 404


def test_enrolment_list_shows_only_visible_enrolments(client, world):
    people = world["people"]
    for role, expected in [
        ("candidate_a", {"cand_a"}),
        ("assessor_in", {"cand_a"}),
        ("assessor_out", {"cand_b"}),
        ("administrator", {"cand_a", "cand_b"}),
    ]:
        client.force_login(people[role])
        page = client.get(reverse("assessments:enrolment_list")).context["page"]
        assert {e.candidate.username for e in page} == expected, role


def test_denied_object_access_is_logged(client, world, caplog):
    client.force_login(world["people"]["candidate_b"])
    with caplog.at_level("WARNING", logger="assessment_portal.security"):
        response = client.get(world["enrolment"].get_absolute_url())
    assert response.status_code == 404
    assert f"access denied: user={world['people']['candidate_b'].pk}" in caplog.text
