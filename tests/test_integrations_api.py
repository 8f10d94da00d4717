"""The /api/v1/ API: tokens, scopes, expiry, per-object access, writes, the results feed."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from assessments import enrolment_status, services
from assessments.models import Cohort, Enrolment
from integrations import feed, tokens
from integrations.models import ApiCall, ApiToken, ResultChange

from . import integrations_support as support
from .integrations_support import bearer, enrol, sign_off, token_for

pytestmark = pytest.mark.django_db
people = support.people


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


@pytest.fixture(autouse=True)
def feed_without_settling(monkeypatch):
    """Entries appear in the feed at once (the hold-back has a test of its own)."""
    monkeypatch.setattr(feed, "SETTLE", timedelta(0))


def get(client, raw, path, **params):
    return client.get(f"/api/v1{path}", params, **bearer(raw))


def send(client, raw, method, path, body):
    return getattr(client, method)(
        f"/api/v1{path}", body, content_type="application/json", **bearer(raw)
    )


# --- tokens -------------------------------------------------------------------


def test_token_is_stored_only_as_its_sha256_with_a_visible_prefix(people):
    token, raw = tokens.create_token(name="SMS", scope="read", expires_at=None, by=people["admin"])
    assert raw.startswith("ap_") and len(raw) > 40
    assert token.token_hash == tokens.hash_token(raw) != raw
    assert token.prefix == raw[:12]
    assert not ApiToken.objects.filter(token_hash=raw).exists()


def test_calls_without_a_valid_token_are_refused(client, people):
    assert client.get("/api/v1/units").status_code == 401
    assert get(client, "ap_not-a-real-token", "/units").status_code == 401
    assert client.get("/api/v1/units", HTTP_AUTHORIZATION="Basic abc").status_code == 401


def test_expired_token_is_refused_and_the_call_logged(client, people):
    raw = token_for(people["admin"], expires_at=timezone.now() + timedelta(hours=1))
    assert get(client, raw, "/units").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert get(client, raw, "/units").status_code == 401
    assert list(ApiCall.objects.order_by("pk").values_list("status", flat=True)) == [200, 401]


def test_expiry_must_be_in_the_future(people):
    with pytest.raises(ValidationError, match="future"):
        token_for(people["admin"], expires_at=timezone.now() - timedelta(minutes=1))


def test_revoked_token_is_refused(client, people):
    token, raw = tokens.create_token(name="SMS", scope="read", expires_at=None, by=people["admin"])
    tokens.revoke_token(token=token, by=people["admin"])
    assert get(client, raw, "/units").status_code == 401
    with pytest.raises(ValidationError, match="already revoked"):
        tokens.revoke_token(token=token, by=people["admin"])


def test_token_stops_when_its_person_is_deactivated(client, people):
    raw = token_for(people["admin"])
    people["admin"].is_active = False
    people["admin"].save()
    assert get(client, raw, "/units").status_code == 401


def test_read_token_cannot_write(client, people):
    raw = token_for(people["admin"], scope="read")
    response = send(
        client,
        raw,
        "post",
        "/enrolments",
        {"candidate_id": people["candidate"].pk, "unit_code": "57", "assessor_id": 1},
    )
    assert response.status_code == 403
    assert "write" in response.json()["detail"]
    assert not Enrolment.objects.exists()


def test_only_an_administrators_token_may_write(people):
    with pytest.raises(ValidationError, match="administrator"):
        token_for(people["admin"], scope="write_enrolments", acts_for=people["assessor"])


def test_every_call_is_logged_with_token_method_path_status(client, people):
    raw = token_for(people["admin"])
    get(client, raw, "/units/57")
    get(client, raw, "/enrolments/999999")
    calls = list(ApiCall.objects.order_by("pk"))
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("GET", "/api/v1/units/57", 200),
        ("GET", "/api/v1/enrolments/999999", 404),
    ]
    assert calls[0].at.utcoffset() == timedelta(0)
    assert ApiToken.objects.get().last_used_at is not None


def test_rate_limit_answers_429_with_retry_after(client, people, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    raw = token_for(people["admin"])
    other = token_for(people["admin"])
    assert get(client, raw, "/units").status_code == 200
    assert get(client, raw, "/units").status_code == 200
    limited = get(client, raw, "/units")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    # The limit is per token.
    assert get(client, other, "/units").status_code == 200


# --- reading --------------------------------------------------------------------


def test_unit_with_outcomes_criteria_and_range(client, people):
    raw = token_for(people["admin"])
    unit = get(client, raw, "/units/57").json()
    assert unit["version"] == "8" or unit["version"]
    first = unit["outcomes"][0]["criteria"][0]
    assert first["number"] == "1.1"
    assert any(rs["items"] for rs in unit["range_statements"])
    assert get(client, raw, "/units/NOPE").status_code == 404


def test_people_with_nsn_and_usi(client, people):
    raw = token_for(people["admin"])
    found = get(client, raw, "/people", role="candidate").json()["items"]
    by_username = {p["username"]: p for p in found}
    assert by_username["cand"]["nsn"] == "123456789"
    assert by_username["jack"]["usi"] == people["au_candidate"].unique_student_identifier
    assert "admin" not in by_username
    assert get(client, raw, "/people", nsn="123456789").json()["count"] == 1


def test_attempt_with_sign_off_amendment_and_date_achieved(client, people):
    raw = token_for(people["admin"])
    enrolment = enrol(people, "57")
    attempt = sign_off(people, enrolment)
    data = get(client, raw, f"/attempts/{attempt.pk}").json()
    assert data["status"] == "signed_off"
    assert data["result"] == "achieved" and data["result_label"] == "Achieved"
    assert data["signed_off_at"] is not None
    assert data["achieved_on"] == timezone.localdate().isoformat()
    assert data["amended"] is False
    services.amend_result(
        assessment=attempt, by=people["admin"], new_result="not_achieved", reason="Wrong log."
    )
    data = get(client, raw, f"/attempts/{attempt.pk}").json()
    assert data["amended"] is True and data["result"] == "not_achieved"
    assert data["achieved_on"] is None
    assert data["amendments"][0]["reason"] == "Wrong log."
    judgements = get(client, raw, f"/attempts/{attempt.pk}/judgements").json()
    assert len(judgements) == 12
    assert {j["verdict"] for j in judgements} == {"satisfactory"}


# --- per-object access ---------------------------------------------------------------


def test_assessors_token_sees_only_their_candidates_everything_else_404(client, people, make_user):
    other_assessor = make_user("other", "assessor")
    mine = enrol(people, "57")
    theirs = services.enrol(
        candidate=people["au_candidate"],
        unit=mine.unit.__class__.objects.get(code="BSBCUS301B"),
        assessor=other_assessor,
        by=people["admin"],
    )
    sign_off(people, mine)
    raw = token_for(people["admin"], acts_for=people["assessor"])
    their_attempt = theirs.assessments.get()
    for path in [
        f"/enrolments/{theirs.pk}",
        f"/attempts/{their_attempt.pk}",
        f"/attempts/{their_attempt.pk}/judgements",
        f"/people/{people['au_candidate'].pk}",
        f"/cohorts/{Cohort.objects.create(name='Intake').pk}",
    ]:
        assert get(client, raw, path).status_code == 404, path
    assert get(client, raw, f"/enrolments/{mine.pk}").status_code == 200
    assert [e["id"] for e in get(client, raw, "/enrolments").json()["items"]] == [mine.pk]
    assert {p["username"] for p in get(client, raw, "/people").json()["items"]} == {
        "cand",
        "assessor",
    }
    assert get(client, raw, "/cohorts").json()["count"] == 0
    # The other assessor's candidate has a feed entry too; the feed shows only mine.
    enrolment_status.withdraw(enrolment=theirs, by=people["admin"], reason="Moved away.")
    assert ResultChange.objects.filter(enrolment=theirs).exists()
    feed = get(client, raw, "/results").json()["items"]
    assert {item["enrolment_id"] for item in feed} == {mine.pk}


def test_candidates_are_not_visible_across_each_other_in_the_feed(client, people, make_user):
    other = make_user("other-cand", "candidate", national_student_number="987654321")
    a, b = enrol(people, "57"), enrol({**people, "candidate": other}, "57")
    sign_off(people, a)
    sign_off(people, b)
    admin_feed = get(client, token_for(people["admin"]), "/results").json()["items"]
    assert {item["enrolment_id"] for item in admin_feed} == {a.pk, b.pk}


# --- writing enrolments -------------------------------------------------------------------


def test_sms_pushes_an_enrolment_in_and_updates_and_withdraws_it(client, people):
    raw = token_for(people["admin"], scope="write_enrolments")
    cohort = send(
        client,
        raw,
        "post",
        "/cohorts",
        {"name": "2026 intake", "candidate_ids": [people["candidate"].pk]},
    )
    assert cohort.status_code == 201, cohort.content
    cohort_id = cohort.json()["id"]
    created = send(
        client,
        raw,
        "post",
        "/enrolments",
        {
            "candidate_id": people["candidate"].pk,
            "unit_code": "57",
            "assessor_id": people["assessor"].pk,
            "cohort_id": cohort_id,
            "due_date": "2026-12-01",
        },
    )
    assert created.status_code == 201, created.content
    enrolment = created.json()
    assert enrolment["outcome"] == "continuing" and len(enrolment["attempt_ids"]) == 1
    again = send(
        client,
        raw,
        "post",
        "/enrolments",
        {
            "candidate_id": people["candidate"].pk,
            "unit_code": "57",
            "assessor_id": people["assessor"].pk,
        },
    )
    assert again.status_code == 400 and "already enrolled" in again.json()["detail"]

    patched = send(
        client,
        raw,
        "patch",
        f"/enrolments/{enrolment['id']}",
        {"due_date": None, "cohort_id": None},
    )
    assert patched.status_code == 200
    assert patched.json()["due_date"] is None and patched.json()["cohort_id"] is None

    withdrawn = send(
        client,
        raw,
        "post",
        f"/enrolments/{enrolment['id']}/withdraw",
        {"reason": "Left the course."},
    )
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["outcome"] == "withdrawn"
    feed = get(client, raw, "/results").json()["items"]
    assert feed[-1]["event"] == "enrolment.status_changed"
    assert feed[-1]["outcome"] == "withdrawn" and feed[-1]["nzqa_result"] == ""


def test_bad_enrolment_input_is_a_clear_400_and_changes_nothing(client, people):
    raw = token_for(people["admin"], scope="write_enrolments")
    response = send(
        client,
        raw,
        "post",
        "/enrolments",
        {
            "candidate_id": people["assessor"].pk,
            "unit_code": "57",
            "assessor_id": people["assessor"].pk,
        },
    )
    assert response.status_code == 400
    assert (
        response.json()["detail"] == f"candidate_id: no candidate has id {people['assessor'].pk}."
    )
    response = send(
        client,
        raw,
        "post",
        "/enrolments",
        {
            "candidate_id": people["candidate"].pk,
            "unit_code": "X9",
            "assessor_id": people["assessor"].pk,
        },
    )
    assert response.status_code == 400 and "no unit X9" in response.json()["detail"]
    assert not Enrolment.objects.exists()


# --- the results feed --------------------------------------------------------------------


def test_feed_pages_with_a_cursor_and_amended_results_come_again(
    client, people, make_user, settings
):
    # With no attempt left, amending to "not achieved" is the final result (with one
    # left, the amendment opens it and the enrolment is continuing).
    settings.ASSESSMENT_MAX_ATTEMPTS = 1
    raw = token_for(people["admin"])
    first = enrol(people, "57")
    second = enrol({**people, "candidate": make_user("c2", "candidate")}, "57")
    attempt = sign_off(people, first)
    sign_off(people, second)

    page1 = get(client, raw, "/results", limit=1).json()
    assert [i["enrolment_id"] for i in page1["items"]] == [first.pk]
    assert page1["has_more"] is True
    page2 = get(client, raw, "/results", limit=1, cursor=page1["next_cursor"]).json()
    assert [i["enrolment_id"] for i in page2["items"]] == [second.pk]
    assert page2["has_more"] is False
    # Nothing new: the cursor stays where it was.
    page3 = get(client, raw, "/results", cursor=page2["next_cursor"]).json()
    assert page3["items"] == [] and page3["next_cursor"] == page2["next_cursor"]

    services.amend_result(
        assessment=attempt, by=people["admin"], new_result="not_achieved", reason="Misjudged."
    )
    page4 = get(client, raw, "/results", cursor=page3["next_cursor"]).json()
    assert [(i["enrolment_id"], i["event"]) for i in page4["items"]] == [
        (first.pk, "result.amended")
    ]
    item = page4["items"][0]
    assert item["amended"] is True and item["nzqa_result"] == "Not achieved"
    assert item["outcome"] == "not_yet_competent"


def test_feed_changed_since_and_bad_cursor(client, people):
    raw = token_for(people["admin"])
    sign_off(people, enrol(people, "57"))
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert get(client, raw, "/results", changed_since=later).json()["items"] == []
    earlier = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert len(get(client, raw, "/results", changed_since=earlier).json()["items"]) == 1
    bad = get(client, raw, "/results", cursor="bm90LWEtY3Vyc29y")
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


def test_feed_and_enrolment_list_queries_do_not_grow_with_the_data(
    client, people, make_user, django_assert_max_num_queries
):
    raw = token_for(people["admin"])

    def add(n):
        for i in range(n):
            candidate = make_user(f"bulk{ResultChange.objects.count()}-{i}", "candidate")
            sign_off(people, enrol({**people, "candidate": candidate}, "57"))

    add(1)
    for size in (1, 4):
        if size > 1:
            add(size - 1)
        with django_assert_max_num_queries(14):
            assert len(get(client, raw, "/results").json()["items"]) == size
        with django_assert_max_num_queries(14):
            assert get(client, raw, "/enrolments").json()["count"] == size
        with django_assert_max_num_queries(14):
            assert get(client, raw, "/attempts").json()["count"] == size


# --- documentation ---------------------------------------------------------------------


def test_openapi_and_docs_are_served_without_a_cdn(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.1")
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_feed_holds_back_entries_until_they_have_settled(client, people, monkeypatch):
    """A sign-off committing late must not be skipped by a cursor that moved past it."""
    raw = token_for(people["admin"])
    sign_off(people, enrol(people, "57"))
    monkeypatch.setattr(feed, "SETTLE", timedelta(seconds=5))
    assert get(client, raw, "/results").json()["items"] == []
    ResultChange.objects.update(changed_at=timezone.now() - timedelta(seconds=6))
    assert len(get(client, raw, "/results").json()["items"]) == 1


def test_nul_in_a_parameter_is_a_json_400(client, people):
    raw = token_for(people["admin"])
    response = get(client, raw, "/units/57", version="8\x00")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "NUL character" in response.json()["detail"]
