import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from assessments import services
from assessments.models import Assessment, AuditEntry, SignOff
from evidence.models import Evidence, EvidenceMapping
from standards.models import PerformanceCriterion, Unit

pytestmark = pytest.mark.django_db

ALL_RULES = {"valid": True, "sufficient": True, "authentic": True, "current": True}


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator"),
        "assessor": make_user("assessor", "assessor"),
        "other_assessor": make_user("other", "assessor"),
        "candidate": make_user("cand", "candidate"),
    }


def add_evidence(candidate, unit_code, numbers, title="Workplace log"):
    evidence = Evidence.objects.create(
        candidate=candidate, kind="written", title=title, text="What I did.", recorded_by=candidate
    )
    for number in numbers:
        EvidenceMapping.objects.create(
            evidence=evidence,
            criterion=PerformanceCriterion.objects.get(
                outcome__unit__code=unit_code, number=number
            ),
        )
    return evidence


def submitted(people, unit_code="57"):
    enrolment = services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code=unit_code),
        assessor=people["assessor"],
        by=people["admin"],
    )
    add_evidence(people["candidate"], unit_code, ["1.1", "1.2"])
    attempt = enrolment.assessments.get()
    return services.submit_for_assessment(
        assessment=attempt, by=people["candidate"], declaration_accepted=True
    )


def judgement(assessment, number):
    return assessment.judgements.get(criterion__number=number)


def satisfactory(j, **overrides):
    """Data that makes a criterion satisfactory: every range item, methods, all four rules."""
    items = [i for rs in j.criterion.range_statements.all() for i in rs.items.all()]
    return {
        "verdict": "satisfactory",
        "methods": ["observation"],
        "range_items": items,
        **ALL_RULES,
        "comment": "",
        **overrides,
    }


def judge(j, by, **overrides):
    return services.record_judgement(
        judgement=j, by=by, expected_version=j.version, data=satisfactory(j, **overrides)
    )


def judge_all(assessment, by, not_yet=()):
    for j in assessment.judgements.all():
        if j.criterion.number in not_yet:
            judge(j, by, verdict="not_yet", comment="Show this with a real customer.")
        else:
            judge(j, by)


def test_submission_records_declaration_and_creates_a_judgement_per_criterion(people):
    assessment = submitted(people)
    assert assessment.status == "submitted"
    assert "my own work" in assessment.declaration
    assert assessment.submitted_at is not None
    assert assessment.judgements.count() == 12
    assert assessment.evidence.count() == 1
    assert AuditEntry.objects.filter(assessment=assessment, action="submitted").exists()


def test_submission_needs_declaration_and_mapped_evidence(people):
    enrolment = services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    attempt = enrolment.assessments.get()
    with pytest.raises(ValidationError, match="Map at least one evidence item"):
        services.submit_for_assessment(
            assessment=attempt, by=people["candidate"], declaration_accepted=True
        )
    add_evidence(people["candidate"], "57", ["1.1"])
    with pytest.raises(ValidationError, match="authenticity declaration"):
        services.submit_for_assessment(
            assessment=attempt, by=people["candidate"], declaration_accepted=False
        )
    attempt.refresh_from_db()
    assert attempt.status == "open"


def test_all_range_must_be_covered_before_satisfactory(people):
    assessment = submitted(people)
    j = judgement(assessment, "1.2")
    items = list(j.criterion.range_statements.get().items.all())
    with pytest.raises(ValidationError) as error:
        judge(j, people["assessor"], range_items=items[:4])
    assert "not yet covered: manufacturers, distributors" in str(error.value)
    j.refresh_from_db()
    assert (j.verdict, j.version) == ("", 0)
    assert not AuditEntry.objects.filter(judgement=j).exists()
    judge(j, people["assessor"])
    j.refresh_from_db()
    assert (j.verdict, j.version) == ("satisfactory", 1)


def test_minimum_coverage_rule(people):
    assessment = submitted(people)
    j = judgement(assessment, "1.2")
    statement = j.criterion.range_statements.get()
    statement.coverage, statement.minimum = "minimum", 2
    statement.save()
    items = list(statement.items.all())
    with pytest.raises(
        ValidationError, match="At least 2 items of the range must be covered; 1 are"
    ):
        judge(j, people["assessor"], range_items=items[:1])
    judge(j, people["assessor"], range_items=items[:2])


def test_examples_only_range_does_not_block(people):
    assessment = submitted(people, unit_code="BSBCUS301B")
    j = judgement(assessment, "1.4")  # "Designated individuals may include:" examples only
    judge(j, people["assessor"], range_items=[])
    j.refresh_from_db()
    assert j.verdict == "satisfactory"


def test_satisfactory_needs_methods_and_rules_of_evidence(people):
    assessment = submitted(people)
    j = judgement(assessment, "1.1")
    with pytest.raises(ValidationError) as error:
        judge(j, people["assessor"], methods=[], authentic=False)
    assert "Record the assessment methods used." in error.value.messages
    assert any("not confirmed: authentic" in m for m in error.value.messages)


def test_not_yet_needs_a_comment(people):
    assessment = submitted(people)
    with pytest.raises(ValidationError, match="what the candidate still needs to show"):
        judge(judgement(assessment, "1.1"), people["assessor"], verdict="not_yet")


def test_only_the_assigned_assessor_may_judge(people):
    assessment = submitted(people)
    with pytest.raises(PermissionDenied):
        judge(judgement(assessment, "1.1"), people["other_assessor"])


def test_stale_save_is_refused_naming_who_changed_it(people):
    assessment = submitted(people)
    opened = judgement(assessment, "1.1")  # version 0, as read by two browser tabs
    judge(opened, people["assessor"], comment="First tab")
    with pytest.raises(services.StaleJudgement, match="changed by assessor at"):
        services.record_judgement(
            judgement=opened,
            by=people["assessor"],
            expected_version=0,
            data=satisfactory(opened, comment="Second tab"),
        )
    opened.refresh_from_db()
    assert opened.comment == "First tab"


def test_every_change_is_audited_with_before_and_after(people):
    assessment = submitted(people)
    j = judgement(assessment, "1.1")
    judge(j, people["assessor"], comment="Good")
    j.refresh_from_db()
    judge(j, people["assessor"], verdict="not_yet", comment="On reflection, not yet")
    entries = list(AuditEntry.objects.filter(judgement=j))
    assert [e.after["verdict"] for e in entries] == ["satisfactory", "not_yet"]
    assert entries[1].before["comment"] == "Good"
    assert entries[1].actor == people["assessor"]


def test_audit_entries_are_append_only(people):
    assessment = submitted(people)
    entry = AuditEntry.objects.filter(assessment=assessment).first()
    entry.action = "tampered"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_sign_off_requires_every_criterion_judged(people):
    assessment = submitted(people)
    judge(judgement(assessment, "1.1"), people["assessor"])
    with pytest.raises(ValidationError, match="Judge every criterion"):
        services.sign_off(
            assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
        )


def test_all_satisfactory_is_achieved_and_double_sign_off_is_impossible(people):
    assessment = submitted(people)
    judge_all(assessment, people["assessor"])
    signed, next_attempt = services.sign_off(
        assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
    )
    assert (signed.status, signed.result, signed.result_label) == (
        "signed_off",
        "achieved",
        "Achieved",
    )
    assert next_attempt is None
    with pytest.raises(ValidationError, match="Already signed off by assessor"):
        services.sign_off(
            assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
        )
    # The database itself refuses a second sign-off record.
    with pytest.raises(IntegrityError), transaction.atomic():
        SignOff.objects.create(
            assessment=assessment,
            result="not_achieved",
            declaration="x",
            signed_by=people["assessor"],
            signed_at=timezone.now(),
        )


def test_not_yet_competent_needs_feedback_and_opens_attempt_with_carry_forward(people):
    assessment = submitted(people, unit_code="BSBCUS501B")
    judge_all(assessment, people["assessor"], not_yet={"2.2"})
    with pytest.raises(ValidationError, match="Give the candidate feedback"):
        services.sign_off(
            assessment=assessment, by=people["assessor"], feedback=" ", declaration_accepted=True
        )
    signed, second = services.sign_off(
        assessment=assessment,
        by=people["assessor"],
        feedback="Show team monitoring.",
        declaration_accepted=True,
    )
    assert signed.result_label == "Not yet competent"
    assert (second.attempt, second.status) == (2, "open")
    verdicts = {j.criterion.number: (j.verdict, j.carried_forward) for j in second.judgements.all()}
    assert verdicts["2.2"] == ("", False)
    assert verdicts["1.1"] == ("satisfactory", True)
    assert sum(1 for v, _ in verdicts.values() if v == "satisfactory") == 9


def test_attempts_stop_at_the_configured_maximum(people, settings):
    settings.ASSESSMENT_MAX_ATTEMPTS = 2
    assessment = submitted(people)
    judge_all(assessment, people["assessor"], not_yet={"3.4"})
    _, second = services.sign_off(
        assessment=assessment,
        by=people["assessor"],
        feedback="Seek feedback.",
        declaration_accepted=True,
    )
    add_evidence(people["candidate"], "57", ["3.4"], title="Feedback form")
    services.submit_for_assessment(
        assessment=second, by=people["candidate"], declaration_accepted=True
    )
    judge(judgement(second, "3.4"), people["assessor"], verdict="not_yet", comment="Still missing")
    _, third = services.sign_off(
        assessment=second,
        by=people["assessor"],
        feedback="Talk to your trainer.",
        declaration_accepted=True,
    )
    assert third is None
    assert Assessment.objects.filter(enrolment=assessment.enrolment).count() == 2


def test_amendment_is_appended_and_keeps_the_signed_record(people):
    assessment = submitted(people)
    judge_all(assessment, people["assessor"])
    services.sign_off(
        assessment=assessment, by=people["assessor"], feedback="", declaration_accepted=True
    )
    with pytest.raises(ValidationError, match="reason"):
        services.amend_result(
            assessment=assessment, by=people["admin"], new_result="not_achieved", reason=""
        )
    services.amend_result(
        assessment=assessment,
        by=people["admin"],
        new_result="not_achieved",
        reason="Evidence for 2.3 was found to be another learner's work.",
    )
    assessment.refresh_from_db()
    assert assessment.result == "not_achieved"
    assert assessment.sign_off.result == "achieved"
    assert assessment.amendments.get().previous_result == "achieved"
    with pytest.raises(PermissionDenied):
        services.amend_result(
            assessment=assessment, by=people["other_assessor"], new_result="achieved", reason="x"
        )


# --- pages ---------------------------------------------------------------------------


def test_marking_page_saves_a_criterion_with_htmx(client, people):
    assessment = submitted(people)
    j = judgement(assessment, "2.3")  # no range: simplest satisfactory judgement
    client.force_login(people["assessor"])
    page = client.get(assessment.get_absolute_url())
    assert 'hx-post="' in page.content.decode()
    assert "0 of 12" in page.content.decode()
    prefix = f"j{j.pk}"
    response = client.post(
        reverse("assessments:judge", args=[assessment.pk, j.pk]),
        {
            f"{prefix}-verdict": "satisfactory",
            f"{prefix}-methods": ["observation", "questioning"],
            **{f"{prefix}-{rule}": "on" for rule in ALL_RULES},
            f"{prefix}-comment": "Handled three customers at once.",
            f"{prefix}-version": "0",
        },
        headers={"HX-Request": "true"},
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "Saved." in content
    assert 'id="progress" class="marking-progress" hx-swap-oob="true"' in content
    assert "1 of 12" in content
    j.refresh_from_db()
    assert j.methods == ["observation", "questioning"]


def test_refused_save_without_javascript_keeps_what_was_typed(client, people):
    assessment = submitted(people)
    j = judgement(assessment, "1.2")
    client.force_login(people["assessor"])
    prefix = f"j{j.pk}"
    response = client.post(
        reverse("assessments:judge", args=[assessment.pk, j.pk]),
        {
            f"{prefix}-verdict": "satisfactory",
            f"{prefix}-methods": ["observation"],
            **{f"{prefix}-{rule}": "on" for rule in ALL_RULES},
            f"{prefix}-comment": "A comment I must not lose",
            f"{prefix}-version": "0",
        },
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "A comment I must not lose" in content
    assert "not yet covered: customer, front-line customer service staff" in content


@pytest.mark.parametrize("who", ["other_assessor", "candidate"])
def test_only_the_assessor_can_post_judgements(client, people, who):
    assessment = submitted(people)
    j = judgement(assessment, "2.3")
    client.force_login(people[who])
    response = client.post(
        reverse("assessments:judge", args=[assessment.pk, j.pk]), {f"j{j.pk}-version": "0"}
    )
    assert response.status_code == 404
    response = client.post(reverse("assessments:sign_off", args=[assessment.pk]))
    assert response.status_code == 404


def test_candidate_sees_feedback_only_after_sign_off(client, people):
    assessment = submitted(people)
    judge_all(assessment, people["assessor"], not_yet={"3.1"})
    client.force_login(people["candidate"])
    before = client.get(assessment.get_absolute_url()).content.decode()
    assert "Show this with a real customer." not in before
    assert "appear here once the result is signed off" in before
    services.sign_off(
        assessment=assessment,
        by=people["assessor"],
        feedback="Nearly there: one more complaint.",
        declaration_accepted=True,
    )
    after = client.get(assessment.get_absolute_url()).content.decode()
    assert "Not achieved" in after
    assert "Nearly there: one more complaint." in after
    assert "Show this with a real customer." in after


def test_sign_off_through_the_page(client, people):
    assessment = submitted(people)
    judge_all(assessment, people["assessor"])
    client.force_login(people["assessor"])
    response = client.post(
        reverse("assessments:sign_off", args=[assessment.pk]),
        {"feedback": "", "declaration": "on"},
        follow=True,
    )
    assert "Signed off: Achieved." in response.content.decode()


def test_refused_sign_off_keeps_what_the_assessor_typed(client, people):
    assessment = submitted(people)
    judge_all(assessment, people["assessor"], not_yet={"3.1"})
    client.force_login(people["assessor"])
    url = reverse("assessments:sign_off", args=[assessment.pk])
    # The declaration is not ticked: refused, and the feedback is still in the form.
    response = client.post(url, {"feedback": "Show one more <complaint> resolved."})
    content = response.content.decode()
    assert response.status_code == 200
    assert "Confirm the assessor declaration to sign off." in content
    assert 'id="id_feedback">Show one more &lt;complaint&gt; resolved.</textarea>' in content
    assessment.refresh_from_db()
    assert assessment.status == "submitted"
    assert not SignOff.objects.filter(assessment=assessment).exists()
    # Not achieved needs feedback: refused, and the ticked declaration stays ticked.
    response = client.post(url, {"feedback": "  ", "declaration": "on"})
    content = response.content.decode()
    assert "Give the candidate feedback" in content
    assert 'id="id_declaration" checked>' in content
    # Then signed off as sent.
    response = client.post(
        url, {"feedback": "Show one more complaint resolved.", "declaration": "on"}, follow=True
    )
    assert "Signed off: Not achieved." in response.content.decode()
    assert assessment.sign_off.feedback == "Show one more complaint resolved."


def test_queue_lists_submissions_with_counts_and_filters(client, people, make_user):
    submitted(people)
    other_candidate = make_user("cand2")
    enrolment = services.enrol(
        candidate=other_candidate,
        unit=Unit.objects.get(code="BSBCUS301B"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    add_evidence(other_candidate, "BSBCUS301B", ["1.1"])
    services.submit_for_assessment(
        assessment=enrolment.assessments.get(), by=other_candidate, declaration_accepted=True
    )
    client.force_login(people["assessor"])
    page = client.get(reverse("assessments:queue"))
    assert page.context["total"] == 2
    assert "US57: 1" in page.content.decode()
    filtered = client.get(reverse("assessments:queue"), {"unit": "57"})
    assert [a.enrolment.candidate.username for a in filtered.context["page"]] == ["cand"]
    assert filtered.context["page"].paginator.count == 1
    by_cohort = client.get(reverse("assessments:queue"), {"cohort": "no such cohort"})
    assert by_cohort.context["page"].paginator.count == 0
    client.force_login(people["other_assessor"])
    assert client.get(reverse("assessments:queue")).context["total"] == 0
    client.force_login(people["candidate"])
    assert client.get(reverse("assessments:queue")).status_code == 404


def test_queue_and_marking_page_query_counts_do_not_grow(
    client, people, make_user, django_assert_max_num_queries
):
    assessment = submitted(people)
    client.force_login(people["admin"])
    with django_assert_max_num_queries(5):
        client.get(reverse("assessments:queue"))
    client.force_login(people["assessor"])
    with django_assert_max_num_queries(5):
        client.get(reverse("assessments:queue"))
    with django_assert_max_num_queries(25):
        client.get(assessment.get_absolute_url())
    for i in range(6):
        candidate = make_user(f"more{i}")
        enrolment = services.enrol(
            candidate=candidate,
            unit=Unit.objects.get(code="57"),
            assessor=people["assessor"],
            by=people["admin"],
        )
        add_evidence(candidate, "57", ["1.1"])
        services.submit_for_assessment(
            assessment=enrolment.assessments.get(), by=candidate, declaration_accepted=True
        )
    for n in range(8):
        add_evidence(people["candidate"], "57", ["1.1", "2.1", "3.2"], title=f"Extra {n}")
    assessment.evidence.add(*Evidence.objects.filter(candidate=people["candidate"]))
    judge_all(assessment, people["assessor"])
    with django_assert_max_num_queries(5):
        client.get(reverse("assessments:queue"))
    with django_assert_max_num_queries(25):
        client.get(assessment.get_absolute_url())
    client.force_login(people["admin"])
    with django_assert_max_num_queries(5):
        page = client.get(reverse("assessments:queue"))
    assert page.context["page"].paginator.count == page.context["total"] == 7


def test_withdrawn_enrolment_cannot_be_submitted(people):
    enrolment = services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    add_evidence(people["candidate"], "57", ["1.1"])
    enrolment.status = "withdrawn"
    enrolment.save()
    with pytest.raises(ValidationError, match="This enrolment is withdrawn"):
        services.submit_for_assessment(
            assessment=enrolment.assessments.get(),
            by=people["candidate"],
            declaration_accepted=True,
        )


def test_assessor_record_link_preselects_the_candidate(client, people):
    enrolment = services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )
    client.force_login(people["assessor"])
    page = client.get(enrolment.get_absolute_url()).content.decode()
    link = f"/evidence/new/observation/?candidate={people['candidate'].pk}"
    assert link in page
    form = client.get(link).context["form"]
    assert str(form["candidate"].value()) == str(people["candidate"].pk)
