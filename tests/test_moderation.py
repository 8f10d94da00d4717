import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, F, Q
from django.tasks import TaskResultStatus, default_task_backend
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from assessment_portal.people_tasks import send_set_password_emails
from assessments import moderation, moderation_views, services
from assessments.models import (
    Assessment,
    AuditEntry,
    Enrolment,
    Judgement,
    ModeratedCriterion,
    ModerationExport,
    ModerationReview,
    ModerationRound,
    ModerationSample,
    SignOff,
)
from standards.models import PerformanceCriterion, Unit
from standards.services import import_unit_file
from tests.conftest import UNIT_FILES
from tests.tasks_support import DATABASE, IMMEDIATE, use_task_backend
from tests.test_assessment import add_evidence, judge_all
from tests.test_evidence import file_item, map_to, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_tasks_and_private_media(settings, tmp_path):
    use_task_backend(settings, IMMEDIATE)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator", is_moderator=True, first_name="Ada"),
        "a1": make_user("a1", "assessor", first_name="Aroha", last_name="One"),
        "a2": make_user("a2", "assessor", first_name="Ben", last_name="Two"),
        "m1": make_user("m1", "assessor", is_moderator=True, first_name="Mere", last_name="Mod"),
        "m2": make_user("m2", "assessor", is_moderator=True, first_name="Max", last_name="Mod"),
    }


def today():
    return timezone.localdate()


def quick_attempt(
    candidate,
    assessor,
    *,
    unit_code="57",
    result="achieved",
    attempt=1,
    when=None,
    not_yet=("1.1",),
):
    """A signed-off attempt with evidence, written straight to the database (fast)."""
    unit = Unit.objects.get(code=unit_code)
    enrolment, _ = Enrolment.objects.get_or_create(
        candidate=candidate, unit=unit, defaults={"assessor": assessor}
    )
    assessment = Assessment.objects.create(
        enrolment=enrolment, attempt=attempt, status="signed_off", result=result
    )
    assessment.evidence.add(add_evidence(candidate, unit_code, ["1.1", "1.2"]))
    criteria = PerformanceCriterion.objects.filter(outcome__unit=unit)
    Judgement.objects.bulk_create(
        Judgement(
            assessment=assessment,
            criterion=criterion,
            **(
                {"verdict": "not_yet", "comment": "Show this with a real customer."}
                if result == "not_achieved" and criterion.number in not_yet
                else {"verdict": "satisfactory"}
            ),
            methods=["observation"],
            updated_by=assessor,
            updated_at=timezone.now(),
        )
        for criterion in criteria
    )
    SignOff.objects.create(
        assessment=assessment,
        result=result,
        declaration=services.ASSESSOR_DECLARATION,
        signed_by=assessor,
        signed_at=when or timezone.now(),
    )
    return assessment


def population(make_user, assessor, outcomes, prefix):
    """Attempts by ``assessor``: outcomes are (result, attempt) pairs, one candidate each."""
    return [
        quick_attempt(
            make_user(f"{prefix}{i}", "candidate", first_name=f"Cand{prefix}{i}"),
            assessor,
            result=result,
            attempt=attempt,
        )
        for i, (result, attempt) in enumerate(outcomes)
    ]


def moderation_world(people):
    """For the role x URL matrix (test_access): a sample of assessor_in's decision
    about candidate_a, moderated by assessor_out."""
    people["assessor_out"].is_moderator = True
    people["assessor_out"].save(update_fields=["is_moderator"])
    attempt = quick_attempt(people["candidate_a"], people["assessor_in"], unit_code="BSBCUS301B")
    round_ = new_round({"admin": people["administrator"]}, unit_code="BSBCUS301B")
    (sample,) = moderation.pick_sample(
        round_=round_,
        by=people["administrator"],
        assessments=[attempt],
        moderators=[people["assessor_out"]],
    )
    return {"round": round_, "sample": sample}


def new_round(people, unit_code="57", **rule):
    return moderation.create_round(
        unit=Unit.objects.get(code=unit_code),
        name="2026 moderation",
        period_start=today() - timedelta(days=30),
        period_end=today(),
        by=people["admin"],
        **rule,
    )


def real_attempt(people, candidate, assessor, not_yet=()):
    """A signed-off attempt made through the portal's own services, as an assessor would."""
    enrolment = services.enrol(
        candidate=candidate, unit=Unit.objects.get(code="57"), assessor=assessor, by=people["admin"]
    )
    add_evidence(candidate, "57", ["1.1", "1.2"])
    assessment = services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
    )
    judge_all(assessment, assessor, not_yet=not_yet)
    services.sign_off(
        assessment=assessment,
        by=assessor,
        feedback="Show this again." if not_yet else "",
        declaration_accepted=True,
    )
    assessment.refresh_from_db()
    return assessment


def agree_all(sample, **overrides):
    """Review data agreeing with everything, with ``overrides`` {number: reason} disagreed."""
    criteria = {}
    for j in sample.assessment.judgements.select_related("criterion"):
        reason = overrides.get(j.criterion.number)
        criteria[j.pk] = (reason is None, reason or "")
    return criteria


# --- sampling ---------------------------------------------------------------------------


def test_rule_defaults_depend_on_the_framework(people, make_user):
    quick_attempt(make_user("c1"), people["a1"])
    quick_attempt(make_user("c2"), people["a1"], unit_code="BSBCUS301B")
    nzqa, au = new_round(people), new_round(people, unit_code="BSBCUS301B")
    assert (nzqa.minimum_per_assessor, nzqa.percent_per_assessor) == (3, 0)
    assert (au.minimum_per_assessor, au.percent_per_assessor) == (5, 10)


def test_population_is_the_unit_signed_off_in_the_period(people, make_user):
    inside = quick_attempt(make_user("c1"), people["a1"])
    quick_attempt(make_user("c2"), people["a1"], when=timezone.now() - timedelta(days=60))
    quick_attempt(make_user("c3"), people["a1"], unit_code="BSBCUS301B")
    round_ = new_round(people)
    assert list(round_.population.all()) == [inside]
    with pytest.raises(ValidationError, match="No attempts at BSBCUS501B"):
        new_round(people, unit_code="BSBCUS501B")


def test_rule_sample_is_reproducible_from_its_seed(people, make_user):
    population(make_user, people["a1"], [("achieved", 1)] * 8 + [("not_achieved", 1)] * 4, "x")
    first = new_round(people, minimum=3, percent=0)
    second = new_round(people, minimum=3, percent=0)
    drawn = moderation.draw_sample(round_=first, by=people["admin"], moderators=[people["m1"]])
    first.refresh_from_db()
    assert first.selection == "rule" and first.seed is not None
    again = moderation.draw_sample(
        round_=second, by=people["admin"], moderators=[people["m1"]], seed=first.seed
    )
    assert [s.assessment_id for s in again] == [s.assessment_id for s in drawn]
    # The recorded seed and population reproduce the sample outside the round, too.
    attempts = list(first.population.select_related("sign_off").order_by("pk"))
    redrawn = moderation.select_by_rule(attempts, seed=first.seed, minimum=3, percent=0)
    assert [a.pk for a in redrawn] == [s.assessment_id for s in drawn]
    # Another seed may choose differently; across a few seeds, some do.
    samples = {
        tuple(a.pk for a in moderation.select_by_rule(attempts, seed=s, minimum=3, percent=0))
        for s in range(10)
    }
    assert len(samples) > 1
    with pytest.raises(ValidationError, match="already been chosen"):
        moderation.draw_sample(round_=first, by=people["admin"], moderators=[people["m1"]])


def test_rule_sample_per_assessor_with_range_of_outcomes(people, make_user):
    a1 = population(
        make_user,
        people["a1"],
        [("achieved", 1)] * 14 + [("not_achieved", 1)] * 5 + [("achieved", 2)],
        "x",
    )
    a2 = population(make_user, people["a2"], [("achieved", 1)] * 2, "y")
    round_ = new_round(people, minimum=3, percent=20)
    for seed in range(5):
        attempts = list(round_.population.select_related("sign_off").order_by("pk"))
        chosen = moderation.select_by_rule(attempts, seed=seed, minimum=3, percent=20)
        of_a1 = [a for a in chosen if a in a1]
        # 20% of 20 is 4, more than the minimum of 3.
        assert len(of_a1) == 4
        assert {a.result for a in of_a1} == {"achieved", "not_achieved"}
        assert any(a.attempt > 1 for a in of_a1)
        # a2 made only two decisions: the minimum of 3 is capped at 2.
        assert sorted(a.pk for a in chosen if a in a2) == sorted(a.pk for a in a2)
    moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["m1"]], seed=7)
    sizes = moderation.sizes(round_)
    assert (sizes["population"], sizes["sample"]) == (22, 6)
    assert [(r.assessor, r.population, r.sample) for r in sizes["per_assessor"]] == [
        (people["a1"], 20, 4),
        (people["a2"], 2, 2),
    ]
    # The population was fixed when the round opened: a decision signed off in the period
    # since then is in neither the population nor its counts.
    population(make_user, people["a2"], [("achieved", 1)], "z")
    assert moderation.sizes(round_)["population"] == 22 == round_.population.count()


def test_range_of_outcomes_can_take_the_sample_past_the_minimum(people, make_user):
    outcomes = [("achieved", 1)] * 3 + [("not_achieved", 1)] * 3 + [("not_achieved", 2)]
    population(make_user, people["a1"], outcomes, "x")
    round_ = new_round(people, minimum=1, percent=0)
    samples = moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["m1"]])
    # One reassessment (not achieved) and one achieved cover the whole range.
    assert len(samples) == 2
    assert {s.result for s in samples} == {"achieved", "not_achieved"}
    assert any(s.assessment.attempt == 2 for s in samples)


def test_hand_picked_sample(people, make_user):
    attempts = population(make_user, people["a1"], [("achieved", 1)] * 4, "x")
    stranger = quick_attempt(make_user("elsewhere"), people["a1"], unit_code="BSBCUS301B")
    round_ = new_round(people)
    with pytest.raises(ValidationError, match="this round's population only"):
        moderation.pick_sample(
            round_=round_, by=people["admin"], assessments=[stranger], moderators=[people["m1"]]
        )
    samples = moderation.pick_sample(
        round_=round_,
        by=people["admin"],
        assessments=[attempts[3], attempts[1]],
        moderators=[people["m1"], people["m2"]],
    )
    round_.refresh_from_db()
    assert (round_.selection, round_.seed) == ("hand", None)
    assert [s.assessment for s in samples] == [attempts[1], attempts[3]]
    # The work is shared between the moderators.
    assert {s.moderator for s in samples} == {people["m1"], people["m2"]}


def test_moderator_cannot_be_the_assessor(people, make_user):
    people["a1"].is_moderator = True
    people["a1"].save()
    population(make_user, people["a1"], [("achieved", 1)] * 2, "x")
    round_ = new_round(people)
    with pytest.raises(ValidationError, match="took part in assessing"):
        moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["a1"]])
    # Given a choice, each attempt goes to a moderator who did not assess it.
    samples = moderation.draw_sample(
        round_=round_, by=people["admin"], moderators=[people["a1"], people["m1"]]
    )
    assert {s.moderator for s in samples} == {people["m1"]}
    with pytest.raises(ValidationError, match="took part in assessing"):
        moderation.assign_moderator(sample=samples[0], moderator=people["a1"], by=people["admin"])
    # The database refuses it too, however the row is written.
    with pytest.raises(IntegrityError), transaction.atomic():
        ModerationSample.objects.filter(pk=samples[0].pk).update(moderator=F("assessor"))


def test_whoever_amended_the_result_cannot_moderate_it(people, make_user):
    (attempt,) = population(make_user, people["a1"], [("achieved", 1)], "x")
    services.amend_result(
        assessment=attempt, by=people["admin"], new_result="not_achieved", reason="Plagiarism."
    )
    round_ = new_round(people)
    with pytest.raises(ValidationError, match="took part in assessing"):
        moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["admin"]])


def test_non_moderator_cannot_be_assigned(people, make_user):
    population(make_user, people["a1"], [("achieved", 1)], "x")
    round_ = new_round(people)
    with pytest.raises(ValidationError, match="Ben Two is not an active moderator"):
        moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["a2"]])
    (sample,) = moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["m1"]])
    with pytest.raises(ValidationError, match="not an active moderator"):
        moderation.assign_moderator(sample=sample, moderator=people["a2"], by=people["admin"])
    moderation.assign_moderator(sample=sample, moderator=people["m2"], by=people["admin"])
    sample.refresh_from_db()
    assert sample.moderator == people["m2"]
    with pytest.raises(PermissionDenied):
        moderation.assign_moderator(sample=sample, moderator=people["m1"], by=people["m1"])


# --- reviews -----------------------------------------------------------------------------


@pytest.fixture
def reviewed_world(people, make_user):
    """Two signed-off attempts by different assessors, sampled by hand."""
    tama = make_user("tama", "candidate", first_name="Tama", national_student_number="123456789")
    lucy = make_user("lucy", "candidate", first_name="Lucy")
    first = quick_attempt(tama, people["a1"], result="not_achieved", not_yet={"3.4"})
    second = quick_attempt(lucy, people["a2"])
    round_ = new_round(people)
    samples = moderation.pick_sample(
        round_=round_, by=people["admin"], assessments=[first, second], moderators=[people["m1"]]
    )
    return {"round": round_, "samples": samples, "tama": tama, "lucy": lucy}


def test_review_requires_reasons_and_never_changes_the_result(people, reviewed_world):
    sample = reviewed_world["samples"][0]
    m1 = people["m1"]
    with pytest.raises(ValidationError, match="reason you disagree with the judgement of 1.1"):
        moderation.submit_review(
            sample=sample,
            by=m1,
            criteria=agree_all(sample, **{"1.1": "  "}),
            agrees_with_result=True,
            recommendation="",
        )
    with pytest.raises(ValidationError, match="Recommend what should happen"):
        moderation.submit_review(
            sample=sample,
            by=m1,
            criteria=agree_all(sample),
            agrees_with_result=False,
            recommendation="",
        )
    with pytest.raises(ValidationError, match="every criterion"):
        moderation.submit_review(
            sample=sample, by=m1, criteria={}, agrees_with_result=True, recommendation=""
        )
    with pytest.raises(PermissionDenied):
        moderation.submit_review(
            sample=sample,
            by=people["m2"],
            criteria=agree_all(sample),
            agrees_with_result=True,
            recommendation="",
        )
    assert not ModerationReview.objects.exists()

    review = moderation.submit_review(
        sample=sample,
        by=m1,
        criteria=agree_all(sample, **{"1.1": "Evidence shows one customer only."}),
        agrees_with_result=False,
        recommendation="Collect a second observation.",
    )
    assessment = sample.assessment
    assessment.refresh_from_db()
    assert assessment.result == "not_achieved"
    assert assessment.sign_off.result == "not_achieved"
    assert review.criteria.filter(agrees=False).get().judgement.criterion.number == "1.1"
    entry = AuditEntry.objects.get(assessment=assessment, action="moderated")
    assert (entry.actor, entry.after["disagreed_criteria"]) == (m1, ["1.1"])
    # Final and append-only.
    with pytest.raises(ValidationError, match="already been reviewed"):
        moderation.submit_review(
            sample=sample,
            by=m1,
            criteria=agree_all(sample),
            agrees_with_result=True,
            recommendation="",
        )
    review.recommendation = "changed my mind"
    with pytest.raises(ValueError, match="append-only"):
        review.save()
    with pytest.raises(ValueError, match="append-only"):
        review.criteria.first().delete()


def test_reason_is_required_by_the_database_too(people, reviewed_world):
    sample = reviewed_world["samples"][0]
    review = moderation.submit_review(
        sample=sample,
        by=people["m1"],
        criteria=agree_all(sample),
        agrees_with_result=True,
        recommendation="",
    )
    other_judgement = reviewed_world["samples"][1].assessment.judgements.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModeratedCriterion.objects.create(
            review=review, judgement=other_judgement, agrees=False, reason=""
        )


def test_assessor_response_is_recorded_with_time(people, reviewed_world):
    sample = reviewed_world["samples"][0]
    review = moderation.submit_review(
        sample=sample,
        by=people["m1"],
        criteria=agree_all(sample, **{"2.1": "No range covered."}),
        agrees_with_result=True,
        recommendation="",
    )
    with pytest.raises(PermissionDenied):
        moderation.respond(review=review, by=people["a2"], text="Not mine")
    with pytest.raises(ValidationError, match="Write your response"):
        moderation.respond(review=review, by=people["a1"], text=" ")
    response = moderation.respond(review=review, by=people["a1"], text="Agreed; will re-observe.")
    assert response.responded_at is not None
    assert list(review.responses.values_list("text", flat=True)) == ["Agreed; will re-observe."]


def _review_both(people, reviewed_world):
    first, second = reviewed_world["samples"]
    moderation.submit_review(
        sample=first,
        by=people["m1"],
        criteria=agree_all(first, **{"1.1": "Only one customer.", "3.4": "It was shown."}),
        agrees_with_result=False,
        recommendation="Re-assess 3.4.",
    )
    moderation.submit_review(
        sample=second,
        by=people["m1"],
        criteria=agree_all(second, **{"1.1": "=cmd|' /C calc'!A0"}),
        agrees_with_result=True,
        recommendation="",
    )


def test_summary_counts_x_of_y(people, reviewed_world):
    round_ = reviewed_world["round"]
    empty = moderation.summary(round_)
    assert (str(empty["judgements"]), empty["reviewed"], empty["samples"]) == ("0 of 0", 0, 2)
    _review_both(people, reviewed_world)
    s = moderation.summary(round_)
    assert str(s["judgements"]) == "21 of 24"  # 12 criteria in US57, two samples
    assert str(s["results"]) == "1 of 2"
    assert [(t.assessor, str(t.judgements), str(t.results)) for t in s["per_assessor"]] == [
        (people["a1"], "10 of 12", "0 of 1"),
        (people["a2"], "11 of 12", "1 of 1"),
    ]
    by_number = {c.number: c for c in s["per_criterion"]}
    assert str(by_number["1.1"].judgements) == "0 of 2"
    assert str(by_number["3.4"].judgements) == "1 of 2"
    assert str(by_number["2.1"].judgements) == "2 of 2"
    assert [c.number for c in s["inconsistent"]] == ["1.1", "3.4"]
    assert [d.reason for d in by_number["1.1"].disagreements] == [
        "Only one customer.",
        "=cmd|' /C calc'!A0",
    ]


def _recount(round_):
    """The round's tallies counted again from its moderated criteria, the record."""
    cells = (
        ModeratedCriterion.objects.filter(review__sample__round=round_)
        .values_list("review__sample__assessor", "judgement__criterion")
        .annotate(verified=Count("pk", filter=Q(agrees=True)), total=Count("pk"))
    )
    return {(a, c): (v, t) for a, c, v, t in cells}


def _tallies(round_):
    return {(t.assessor_id, t.criterion_id): (t.verified, t.total) for t in round_.tallies.all()}


def test_the_summarys_tallies_are_what_the_reviews_add_up_to(people, reviewed_world):
    round_ = reviewed_world["round"]
    first = reviewed_world["samples"][0]
    _review_both(people, reviewed_world)
    tallies = _tallies(round_)
    assert tallies == _recount(round_)
    one_one = PerformanceCriterion.objects.get(outcome__unit=round_.unit, number="1.1")
    assert tallies[first.assessor_id, one_one.pk] == (0, 1)
    assert sum(total for _, total in tallies.values()) == 24
    # A second round of the same assessors keeps figures of its own.
    other = new_round(people, minimum=1, percent=0)
    assert _tallies(other) == {}


@pytest.fixture
def units_again():
    """The units, for a transactional test: an earlier one's flush may have removed them."""
    for path in UNIT_FILES:
        import_unit_file(path)


@pytest.mark.django_db(transaction=True)
def test_reviews_recorded_before_tallies_were_kept_are_counted(units_again, people, reviewed_world):
    round_ = reviewed_world["round"]
    _review_both(people, reviewed_world)
    expected = _tallies(round_)
    executor = MigrationExecutor(connection)
    executor.migrate([("assessments", "0014_attempt_unit")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert _tallies(round_) == expected == _recount(round_)
    assert str(moderation.summary(round_)["judgements"]) == "21 of 24"


# --- reports and the background export ----------------------------------------------------


def test_csv_report_escapes_formulas(people, reviewed_world):
    reviewed_world["lucy"].first_name = "=cmd"
    reviewed_world["lucy"].save()
    _review_both(people, reviewed_world)
    moderation.respond(
        review=reviewed_world["samples"][0].review, by=people["a1"], text="+1, agreed"
    )
    export = moderation.request_export(
        round_=reviewed_world["round"], format="csv", by=people["admin"]
    )
    assert export.status == "done"
    raw = _download(people, export)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == moderation.CSV_HEADER
    assert len(rows) == 24
    lucy_11 = next(
        r for r in rows if r["Candidate"].startswith("'=cmd") and r["Criterion"] == "1.1"
    )
    assert lucy_11["Candidate"] == "'=cmd"
    assert lucy_11["Reason"] == "'=cmd|' /C calc'!A0"
    assert (lucy_11["Moderator agrees"], lucy_11["Assessor verdict"]) == ("No", "Satisfactory")
    assert lucy_11["Overall verdict"] == "Agrees with the result"
    tama_34 = next(r for r in rows if r["Candidate"] == "Tama" and r["Criterion"] == "3.4")
    assert tama_34["Candidate identifier"] == "123456789"
    assert tama_34["Assessor verdict"] == "Not yet satisfactory"
    assert tama_34["Recommendation"] == "Re-assess 3.4."
    assert tama_34["Assessor response"].endswith("Aroha One: +1, agreed")
    assert not tama_34["Assessor response"].startswith("'")


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_spreadsheet_safe_prefixes_formula_triggers(value):
    assert moderation.spreadsheet_safe(value) == "'" + value
    assert moderation.spreadsheet_safe("1.1") == "1.1"


def _download(people, export):
    client = Client()
    client.force_login(people["admin"])
    response = client.get(reverse("moderation:export_download", args=[export.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    return b"".join(response.streaming_content)


def test_pdf_report_states_x_of_y_and_names(people, reviewed_world):
    _review_both(people, reviewed_world)
    export = moderation.request_export(
        round_=reviewed_world["round"], format="pdf", by=people["admin"]
    )
    assert export.status == "done", export.error
    pdf = _download(people, export)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    assert "21 of 24 assessor judgements verified" in text
    assert "1 of 2 results verified" in text
    assert "10 of 12" in text and "11 of 12" in text
    for expected in ["1.1", "3.4", "Tama", "Lucy", "NSN 123456789", "Re-assess 3.4."]:
        assert expected in text


def test_exports_run_in_a_queue_of_their_own_in_turn(
    people, reviewed_world, settings, monkeypatch, mailoutbox
):
    """A long report never holds up other work, and queued reports are built in order."""
    use_task_backend(settings, DATABASE)
    _review_both(people, reviewed_world)
    first, second = (
        moderation.request_export(round_=reviewed_world["round"], format=f, by=people["admin"])
        for f in ("csv", "pdf")
    )
    assert first.status == second.status == "queued"
    assert default_task_backend.get_result(first.task_result_id).status == TaskResultStatus.READY
    people["a1"].email = "aroha@example.org"
    people["a1"].save()
    send_set_password_emails.enqueue([people["a1"].pk], "https://portal.example")
    # Between tasks the worker closes stale connections, which on PostgreSQL would
    # close this test's connection and its open transaction with it.
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    worker = ["run_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0"]

    # `make serve`'s worker for everything but reports: the e-mail goes, the reports wait.
    call_command(*worker, "--exclude-queues", "exports")
    assert [m.to for m in mailoutbox] == [["aroha@example.org"]]
    first.refresh_from_db()
    assert first.status == "queued"

    call_command(*worker, "--queue-name", "exports")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "done"
    assert first.finished_at <= second.started_at
    result = default_task_backend.get_result(first.task_result_id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert _download(people, first).startswith(b"\xef\xbb\xbfRound,Unit,Candidate")


def test_failed_export_is_recorded(people, reviewed_world, monkeypatch):
    def broken(round_):
        raise RuntimeError("disk full")

    monkeypatch.setitem(moderation.BUILDERS, "csv", broken)
    export = moderation.request_export(
        round_=reviewed_world["round"], format="csv", by=people["admin"]
    )
    assert export.status == "failed"
    assert "could not be built" in export.error
    assert "disk full" not in export.error


def test_export_page_polls_until_ready(client, people, reviewed_world, settings):
    use_task_backend(settings, DATABASE)
    round_ = reviewed_world["round"]
    client.force_login(people["admin"])
    response = client.post(
        reverse("moderation:round_export", args=[round_.pk]), {"format": "pdf"}, follow=True
    )
    export = ModerationExport.objects.get()
    content = response.content.decode()
    assert 'hx-trigger="every 2s"' in content
    assert "htmx.min.js" in content
    fragment = client.get(reverse("moderation:export_status", args=[export.pk]))
    assert 'hx-trigger="every 2s"' in fragment.content.decode()
    download = reverse("moderation:export_download", args=[export.pk])
    assert client.get(download).status_code == 404  # not built yet
    moderation.run_export(export.pk)
    fragment = client.get(reverse("moderation:export_status", args=[export.pk])).content.decode()
    assert "every 2s" not in fragment
    assert download in fragment


# --- pages -------------------------------------------------------------------------------


def test_administrator_creates_and_draws_a_round_through_the_pages(client, people, make_user):
    population(make_user, people["a1"], [("achieved", 1)] * 5 + [("not_achieved", 1)], "x")
    client.force_login(people["admin"])
    response = client.post(
        reverse("moderation:round_create"),
        {
            "unit": Unit.objects.get(code="57").pk,
            "name": "Term 1",
            "period_start": (today() - timedelta(days=7)).isoformat(),
            "period_end": today().isoformat(),
        },
    )
    round_ = ModerationRound.objects.get()
    assert response.status_code == 302 and response["Location"] == round_.get_absolute_url()
    page = client.get(round_.get_absolute_url()).content.decode()
    assert "Draw by rule" in page and "pick by hand" in page
    response = client.post(
        round_.get_absolute_url(),
        {"draw-seed": "12345", "draw-moderators": [people["m1"].pk], "draw": "Draw"},
        follow=True,
    )
    assert "Sampled 3 attempts" in response.content.decode()
    round_.refresh_from_db()
    assert round_.seed == 12345


def test_pick_by_hand_through_the_page_shows_errors(client, people, make_user):
    attempts = population(make_user, people["a1"], [("achieved", 1)] * 3, "x")
    round_ = new_round(people)
    client.force_login(people["admin"])
    url = reverse("moderation:round_population", args=[round_.pk])
    response = client.post(
        url,
        {
            "pick-assessments": [attempts[0].pk],
            "pick-moderators": [people["a2"].pk],
            "pick": "Pick",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    response = client.post(
        url,
        {
            "pick-assessments": [attempts[0].pk],
            "pick-moderators": [people["m1"].pk],
            "pick": "Pick",
        },
        follow=True,
    )
    assert "Sampled 1 attempt for" in response.content.decode()


def test_moderator_reviews_through_the_page(client, people, reviewed_world):
    sample = reviewed_world["samples"][0]
    client.force_login(people["m1"])
    listing = client.get(reverse("moderation:my_reviews")).content.decode()
    assert "Tama" in listing and "to review" in listing
    url = reverse("moderation:review", args=[sample.pk])
    page = client.get(url).content.decode()
    assert "Workplace log" in page  # the evidence, shown inline
    assert "Show this with a real customer." in page  # the assessor's comment on 3.4
    evidence = sample.assessment.evidence.first()
    assert f'href="{evidence.get_absolute_url()}"' in page
    assert client.get(evidence.get_absolute_url()).status_code == 200
    judgements = list(sample.assessment.judgements.all())
    data = {f"c{j.pk}": "agree" for j in judgements}
    data.update({"result": "agree", f"c{judgements[0].pk}": "disagree"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Give the reason you disagree." in response.content.decode()
    data[f"c{judgements[0].pk}_reason"] = "Not enough."
    response = client.post(url, data, follow=True)
    assert "Review submitted" in response.content.decode()
    assert "(final)" in response.content.decode()
    assert ModerationReview.objects.get().sample == sample

    client.force_login(people["a1"])
    outcome_url = reverse("moderation:decision", args=[sample.pk])
    assert (
        "Agrees with the result" in client.get(reverse("moderation:my_decisions")).content.decode()
    )
    response = client.post(outcome_url, {"text": "Thanks, noted."}, follow=True)
    assert "Thanks, noted." in response.content.decode()
    assert "Not enough." in response.content.decode()


def test_the_review_shows_the_range_each_judgement_covers_and_each_files_record(
    client, people, make_user
):
    candidate = make_user("ranged", "candidate", first_name="Rangi")
    enrolment = services.enrol(
        candidate=candidate,
        unit=Unit.objects.get(code="57"),
        assessor=people["a1"],
        by=people["admin"],
    )
    logbook = file_item(candidate, files=(("shift-log.pdf", None), ("photo.png", png_bytes())))
    map_to(logbook, "1.1", "1.2")
    attempt = services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
    )
    judge_all(attempt, people["a1"])  # satisfactory: every range item covered
    services.sign_off(assessment=attempt, by=people["a1"], feedback="", declaration_accepted=True)
    (sample,) = moderation.draw_sample(
        round_=new_round(people), by=people["admin"], moderators=[people["m1"]]
    )
    client.force_login(people["m1"])
    page = client.get(reverse("moderation:review", args=[sample.pk])).content.decode()
    criterion = page[page.index('id="criterion-1.2"') : page.index('id="criterion-1.3"')]
    items = [
        item.text
        for statement in PerformanceCriterion.objects.get(
            outcome__unit__code="57", number="1.2"
        ).range_statements.order_by("position")
        for item in statement.items.order_by("position")
    ]
    assert len(items) > 1
    assert f'Range covered</dt><dd class="col-sm-9">{"; ".join(items)}</dd>' in criterion
    evidence = page[page.index('id="evidence-h"') : page.index('id="criteria-h"')]
    for file in logbook.files.all():
        assert f'href="{file.get_absolute_url()}">{file.original_name}</a>' in evidence
        assert file.sha256[:16] in evidence
    assert evidence.index("shift-log.pdf") < evidence.index("photo.png")  # as uploaded


def test_a_refused_review_keeps_every_choice_made(client, people, reviewed_world):
    sample = reviewed_world["samples"][0]
    client.force_login(people["m1"])
    url = reverse("moderation:review", args=[sample.pk])
    judgements = list(sample.assessment.judgements.order_by("criterion__sort_key"))
    first, second = judgements[0], judgements[1]
    page = client.get(url).content.decode()
    assert (
        f'<input type="radio" class="form-check-input" name="c{first.pk}" value="agree" '
        f'id="id_c{first.pk}_0" required><label for="id_c{first.pk}_0" '
        'class="form-check-label">Agree</label>'
    ) in page
    assert " checked" not in page
    # Disagreeing without a reason is refused; what was chosen is still chosen.
    response = client.post(url, {f"c{first.pk}": "disagree", f"c{second.pk}": "agree"})
    page = response.content.decode()
    assert "Give the reason you disagree." in page
    assert f'name="c{first.pk}" value="disagree" id="id_c{first.pk}_1" required checked>' in page
    assert f'name="c{second.pk}" value="agree" id="id_c{second.pk}_0" required checked>' in page
    assert page.count(" checked>") == 2
    # A choice left out is marked invalid.
    assert f'class="form-check-input is-invalid" name="c{judgements[2].pk}" value="agree"' in page
    assert f'class="form-check-input" name="c{second.pk}"' in page


def test_moderating_an_attempt_made_through_the_assessment_services(people, make_user):
    candidate = make_user("real", "candidate", first_name="Real")
    attempt = real_attempt(people, candidate, people["a1"], not_yet={"2.2"})
    round_ = new_round(people)
    # The admin who enrolled the candidate took no part in judging, so may moderate.
    (sample,) = moderation.draw_sample(
        round_=round_, by=people["admin"], moderators=[people["admin"]]
    )
    assert (sample.assessment, sample.assessor, sample.result) == (
        attempt,
        people["a1"],
        "not_achieved",
    )
    moderation.submit_review(
        sample=sample,
        by=people["admin"],
        criteria=agree_all(sample, **{"2.2": "The evidence shows it."}),
        agrees_with_result=False,
        recommendation="Reconsider 2.2.",
    )
    attempt.refresh_from_db()
    assert attempt.result == "not_achieved"
    assert str(moderation.summary(round_)["judgements"]) == "11 of 12"


def test_a_moderator_who_loses_the_flag_can_no_longer_review(client, people, reviewed_world):
    sample = reviewed_world["samples"][0]
    people["m1"].is_moderator = False
    people["m1"].save()
    with pytest.raises(ValidationError, match="not an active moderator"):
        moderation.submit_review(
            sample=sample,
            by=people["m1"],
            criteria=agree_all(sample),
            agrees_with_result=True,
            recommendation="",
        )
    client.force_login(people["m1"])
    assert client.get(reverse("moderation:review", args=[sample.pk])).status_code == 404
    assert client.get(reverse("moderation:my_reviews")).status_code == 404


@pytest.mark.parametrize("who", ["admin", "m2", "a1", "a2"])
def test_only_the_assigned_moderator_sees_the_review_page(client, people, reviewed_world, who):
    client.force_login(people[who])
    sample = reviewed_world["samples"][0]
    assert client.get(reverse("moderation:review", args=[sample.pk])).status_code == 404


@pytest.mark.parametrize("who", ["admin", "m1", "a2"])
def test_only_the_assessor_sees_the_outcome_page(client, people, reviewed_world, who):
    client.force_login(people[who])
    sample = reviewed_world["samples"][0]
    assert client.get(reverse("moderation:decision", args=[sample.pk])).status_code == 404


@pytest.mark.parametrize("who", ["m1", "a1"])
def test_round_pages_and_downloads_are_for_administrators(client, people, reviewed_world, who):
    export = moderation.request_export(
        round_=reviewed_world["round"], format="csv", by=people["admin"]
    )
    client.force_login(people[who])
    pk = reviewed_world["round"].pk
    for name, args in [
        ("moderation:round_list", []),
        ("moderation:round_create", []),
        ("moderation:round_detail", [pk]),
        ("moderation:round_summary", [pk]),
        ("moderation:round_export", [pk]),
        ("moderation:sample_assign", [reviewed_world["samples"][0].pk]),
        ("moderation:export_status", [export.pk]),
        ("moderation:export_download", [export.pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 404, name


def test_round_and_population_pages_are_counted_with_the_sizes(
    client, people, make_user, reviewed_world, monkeypatch
):
    """The pages' totals come from the sizes table: every row shows on exactly one page."""
    monkeypatch.setattr(moderation_views, "SAMPLES_PER_PAGE", 1)
    monkeypatch.setattr(moderation_views, "POPULATION_PER_PAGE", 2)
    client.force_login(people["admin"])

    def shown(url, **query):
        seen = []
        for number in (1, 2, 3):
            page = client.get(url, {"page": number, **query}).context["page"]
            if page.number < number:  # past the end: the last page again
                break
            seen += list(page.object_list)  # both pages are paged by primary key
        return page.paginator.count, seen

    round_ = reviewed_world["round"]
    count, seen = shown(round_.get_absolute_url())
    assert count == len(seen) == 2
    assert sorted(seen) == sorted(s.pk for s in reviewed_world["samples"])

    population(make_user, people["a1"], [("achieved", 1)] * 3, "p")
    unsampled = new_round(people)
    url = reverse("moderation:round_population", args=[unsampled.pk])
    count, seen = shown(url)
    assert count == len(seen) == unsampled.population.count() > 2
    assert sorted(seen) == sorted(unsampled.population.values_list("pk", flat=True))
    assert shown(url, q="Candp")[0] == 3  # filtered: counted by the filter


# The page's attempts are found by primary key, then read with their people.
POPULATION_PAGE_QUERIES = 13


def test_pages_make_a_fixed_number_of_queries(
    client, people, make_user, django_assert_max_num_queries
):
    def visit():
        """Each page's query count, the same for a small or a larger round (measured)."""
        round_ = new_round(people, minimum=2, percent=0)
        client.force_login(people["admin"])
        with django_assert_max_num_queries(8):
            assert client.get(round_.get_absolute_url()).status_code == 200  # forms to draw
        picked = [a.pk for a in round_.population.all()[:2]]
        population_url = reverse("moderation:round_population", args=[round_.pk])
        with django_assert_max_num_queries(POPULATION_PAGE_QUERIES):
            response = client.get(population_url, {"picked": picked, "q": "cand"})
        assert response.status_code == 200
        assert len(response.context["selected"]) == 2
        # Unfiltered, the population's size is the count: one query fewer.
        with django_assert_max_num_queries(POPULATION_PAGE_QUERIES - 1):
            response = client.get(population_url, {"picked": picked})
        assert response.context["page"].paginator.count == round_.population.count()
        moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["m1"]])
        client.force_login(people["m1"])
        pending = reverse("moderation:review", args=[round_.samples.first().pk])
        # The review form: session, user, sample, attempt, judgements, their range items,
        # evidence, files, mappings, and whether the moderator took part in the history
        # (who recorded the evidence is read with it).
        with django_assert_max_num_queries(10):
            response = client.get(pending)
        assert response.status_code == 200 and 'name="result"' in response.content.decode()
        for sample in round_.samples.all():
            moderation.submit_review(
                sample=sample,
                by=people["m1"],
                criteria=agree_all(sample, **{"1.1": "Thin."}),
                agrees_with_result=True,
                recommendation="",
            )
        sample = round_.samples.first()
        pages = [
            ("admin", reverse("moderation:round_list"), 4),
            # Includes the query that flags moderators who took part since the draw,
            # and the samples' moderators; the sizes count the samples for the pages.
            ("admin", round_.get_absolute_url(), 9),
            ("admin", reverse("moderation:round_summary", args=[round_.pk]), 8),
            # One more than the page itself: the check for exports whose worker died.
            ("admin", reverse("moderation:round_export", args=[round_.pk]), 5),
            # The rounds' units (and the assessors) are fetched apart rather than
            # joined into every row.
            ("m1", reverse("moderation:my_reviews"), 6),
            ("m1", reverse("moderation:review", args=[sample.pk]), 11),
            ("a1", reverse("moderation:my_decisions"), 5),
            ("a1", reverse("moderation:decision", args=[sample.pk]), 7),
        ]
        for who, url, queries in pages:
            client.force_login(people[who])
            with django_assert_max_num_queries(queries):
                assert client.get(url).status_code == 200

    population(make_user, people["a1"], [("achieved", 1), ("not_achieved", 1)], "s")
    visit()
    population(make_user, people["a1"], [("achieved", 1)] * 6 + [("not_achieved", 1)] * 3, "l")
    population(make_user, people["a2"], [("achieved", 1)] * 5, "big")
    visit()


def test_assigned_moderator_opens_the_sampled_assessment_and_its_evidence(
    client, people, reviewed_world
):
    assessment = reviewed_world["samples"][0].assessment
    evidence = assessment.evidence.first()
    client.force_login(people["m1"])
    assert client.get(assessment.get_absolute_url()).status_code == 200
    assert client.get(evidence.get_absolute_url()).status_code == 200
    # Another moderator, and the moderator for an attempt not sampled, see nothing.
    client.force_login(people["m2"])
    assert client.get(assessment.get_absolute_url()).status_code == 404
    assert client.get(evidence.get_absolute_url()).status_code == 404
    client.force_login(people["m1"])
    unsampled = quick_attempt(reviewed_world["lucy"], people["a1"], unit_code="BSBCUS301B")
    assert client.get(unsampled.get_absolute_url()).status_code == 404


def test_population_page_filters_pages_and_keeps_the_selection(client, people, make_user):
    mine = population(make_user, people["a1"], [("achieved", 1)] * 52, "p")
    theirs = population(make_user, people["a2"], [("not_achieved", 2)] * 2, "q")
    round_ = new_round(people)
    client.force_login(people["admin"])
    url = reverse("moderation:round_population", args=[round_.pk])
    first = client.get(url, {"picked": [mine[0].pk, theirs[0].pk]})
    assert first.context["page"].paginator.count == 54
    assert len(first.context["page"]) == 25  # a page at a time, not 54 checkboxes
    assert 'href="?picked=' in first.content.decode()  # paging keeps the selection
    # The filter names each assessor with their share of the population, the chosen one kept.
    page = client.get(url, {"assessor": people["a2"].pk}).content.decode()
    a1, a2 = people["a1"], people["a2"]
    assert f'<option value="{a2.pk}" selected>{a2} (2)</option>' in page
    assert f'<option value="{a1.pk}">{a1} (52)</option>' in page
    narrowed = client.get(url, {"assessor": people["a2"].pk, "reassessment": "1"}).context
    assert {a.pk for a in narrowed["attempts"]} == {a.pk for a in theirs}
    assert client.get(url, {"result": "achieved", "q": "candp51"}).context["attempts"] == [mine[51]]
    # Selected elsewhere stays selected (hidden) when this page is shown.
    kept = client.get(url, {"assessor": people["a2"].pk, "picked": [mine[0].pk]}).context
    assert kept["picked_elsewhere"] == [mine[0].pk]
    response = client.post(
        url,
        {
            "pick-assessments": [mine[0].pk, theirs[0].pk],
            "pick-moderators": [people["m1"].pk],
            "pick": "Pick",
        },
        follow=True,
    )
    assert "Sampled 2 attempts for moderation." in response.content.decode()
    assert {s.assessment_id for s in round_.samples.all()} == {mine[0].pk, theirs[0].pk}
    assert client.get(url).status_code == 302  # sampled: nothing left to pick


def test_round_list_counts_each_round_on_its_own(client, people, make_user):
    population(make_user, people["a1"], [("achieved", 1)] * 4, "r")
    first, second = new_round(people), new_round(people, minimum=1, percent=0)
    moderation.draw_sample(round_=first, by=people["admin"], moderators=[people["m1"]], seed=1)
    client.force_login(people["admin"])
    rounds = {r.pk: r for r in client.get(reverse("moderation:round_list")).context["page"]}
    assert (rounds[first.pk].population_size, rounds[first.pk].sample_size) == (4, 3)
    assert (rounds[second.pk].population_size, rounds[second.pk].sample_size) == (4, 0)
    assert rounds[first.pk].reviewed == 0


@pytest.mark.django_db(transaction=True)
def test_rounds_opened_before_population_counts_were_recorded_get_them(people, make_user):
    for path in UNIT_FILES:  # an earlier transactional test's flush may have removed them
        import_unit_file(path)
    population(make_user, people["a1"], [("achieved", 1)] * 3, "x")
    population(make_user, people["a2"], [("not_achieved", 1)], "y")
    round_ = new_round(people)
    expected = moderation.sizes(round_)
    ModerationRound.objects.filter(pk=round_.pk).update(population_by_assessor={})
    executor = MigrationExecutor(connection)
    executor.migrate([("assessments", "0010_awaiting_judgement_index")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    round_.refresh_from_db()
    assert round_.population_by_assessor == {str(people["a1"].pk): 3, str(people["a2"].pk): 1}
    assert moderation.sizes(round_) == expected


def test_round_page_lists_samples_by_assessor_then_candidate(client, people, make_user):
    def attempt(username, last_name, assessor):
        candidate = make_user(username, "candidate", last_name=last_name)
        return quick_attempt(candidate, assessor)

    # Made out of order: the list is not in the order the attempts were made.
    attempt("c1", "Zed", people["a2"])
    attempt("c2", "Young", people["a1"])
    attempt("c3", "Adams", people["a2"])
    attempt("c4", "Brown", people["a1"])
    round_ = new_round(people, minimum=5, percent=0)
    moderation.draw_sample(round_=round_, by=people["admin"], moderators=[people["m1"]])
    client.force_login(people["admin"])
    samples = client.get(round_.get_absolute_url()).context["samples"]
    assert [
        (s.assessor.last_name, s.assessment.enrolment.candidate.last_name) for s in samples
    ] == [("One", "Brown"), ("One", "Young"), ("Two", "Adams"), ("Two", "Zed")]
