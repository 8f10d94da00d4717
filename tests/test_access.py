"""Every URL against every role: what is not yours is 404, anonymous is sent to log in.

Later pages add rows to URLS; each row says which roles may see the page.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assessments.models import Cohort, Enrolment
from assessments.services import open_attempt
from evidence.services import create_evidence_with_files, map_evidence
from standards.models import PerformanceCriterion, Unit
from tests.test_moderation import moderation_world

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "candidate_a", "candidate_b", "assessor_in", "assessor_out", "administrator"]
EVERYONE = set(ROLES) - {"anonymous"}
OWNERS = {"candidate_a", "assessor_in", "administrator"}
ADMIN = {"administrator"}
CANDIDATES = {"candidate_a", "candidate_b"}
ASSESSORS = {"assessor_in", "assessor_out"}
CANDIDATE_A = {"candidate_a"}


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
    assessment = open_attempt(enrolment, attempt=1)
    evidence = create_evidence_with_files(
        candidate=people["candidate_a"],
        by=people["candidate_a"],
        kind="file",
        data={"title": "Log book"},
        uploads=[SimpleUploadedFile("log.txt", b"Greeted 40 customers.\n")],
    )
    map_evidence(
        evidence=evidence,
        by=people["candidate_a"],
        criteria=[PerformanceCriterion.objects.get(outcome__unit__code="57", number="1.1")],
    )
    return {
        "people": people,
        "enrolment": enrolment,
        "cohort": cohort,
        "assessment": assessment,
        "evidence": evidence,
        "moderation": moderation_world(people),
    }


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
    ("assessments:queue", lambda w: [], {"assessor_in", "assessor_out", "administrator"}),
    ("assessments:assessment_detail", lambda w: [w["assessment"].pk], OWNERS),
    # A folded criterion, loaded when opened: staff only (a candidate's page shows all).
    (
        "assessments:judge",
        lambda w: [w["assessment"].pk, w["assessment"].judgements.first().pk],
        OWNERS - {"candidate_a"},
    ),
    # The whole history is for staff; a candidate reads the decisions on the attempt page.
    (
        "assessments:assessment_history",
        lambda w: [w["assessment"].pk],
        OWNERS - {"candidate_a"},
    ),
    (
        "assessments:assessment_latest_changes",
        lambda w: [w["assessment"].pk],
        OWNERS - {"candidate_a"},
    ),
    ("evidence:evidence_list", lambda w: [], EVERYONE),
    ("evidence:evidence_create", lambda w: ["file"], CANDIDATES),
    ("evidence:evidence_create", lambda w: ["written"], CANDIDATES),
    ("evidence:evidence_create", lambda w: ["observation"], ASSESSORS),
    ("evidence:evidence_create", lambda w: ["questioning"], ASSESSORS),
    ("evidence:evidence_create", lambda w: ["third_party"], ASSESSORS),
    ("evidence:evidence_detail", lambda w: [w["evidence"].pk], OWNERS),
    ("evidence:evidence_edit", lambda w: [w["evidence"].pk], CANDIDATE_A),
    ("evidence:evidence_delete", lambda w: [w["evidence"].pk], CANDIDATE_A),
    ("evidence:evidence_add_files", lambda w: [w["evidence"].pk], CANDIDATE_A),
    ("evidence:evidence_map", lambda w: [w["evidence"].pk], CANDIDATE_A),
    ("evidence:file_download", lambda w: [w["evidence"].files.get().pk], OWNERS),
    ("evidence:file_delete", lambda w: [w["evidence"].files.get().pk], CANDIDATE_A),
    ("evidence:coverage", lambda w: [w["enrolment"].pk], OWNERS),
    ("evidence:submit", lambda w: [w["enrolment"].pk], CANDIDATE_A),
    ("moderation:round_list", lambda w: [], ADMIN),
    ("moderation:round_create", lambda w: [], ADMIN),
    ("moderation:round_detail", lambda w: [w["moderation"]["round"].pk], ADMIN),
    ("moderation:round_summary", lambda w: [w["moderation"]["round"].pk], ADMIN),
    ("moderation:round_export", lambda w: [w["moderation"]["round"].pk], ADMIN),
    ("moderation:sample_assign", lambda w: [w["moderation"]["sample"].pk], ADMIN),
    ("moderation:my_reviews", lambda w: [], {"assessor_out"}),
    ("moderation:review", lambda w: [w["moderation"]["sample"].pk], {"assessor_out"}),
    ("moderation:my_decisions", lambda w: [], ASSESSORS),
    ("moderation:decision", lambda w: [w["moderation"]["sample"].pk], {"assessor_in"}),
    ("reports:assessment_record", lambda w: [w["assessment"].pk], OWNERS),
    ("reports:assessment_record_preview", lambda w: [w["assessment"].pk], OWNERS),
    ("reports:transcript", lambda w: [w["people"]["candidate_a"].pk], OWNERS),
    ("reports:transcript_preview", lambda w: [w["people"]["candidate_a"].pk], OWNERS),
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
