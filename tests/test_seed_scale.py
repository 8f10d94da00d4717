"""seed_scale builds a whole institution by the project's rules (for benchmarks)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from assessments.models import (
    Amendment,
    Assessment,
    AuditEntry,
    Cohort,
    Enrolment,
    Judgement,
    ModerationReview,
    ModerationRound,
    SignOff,
)
from evidence.models import Evidence, EvidenceFile
from standards.models import PerformanceCriterion

pytestmark = pytest.mark.django_db


def test_seed_scale_is_refused_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="published password"):
        call_command("seed_scale", candidates=525)


def test_seed_scale_builds_an_institution_that_keeps_the_rules(settings, media_root):
    settings.DEBUG = True
    call_command("seed_scale", candidates=525, stdout=io.StringIO())
    assert Cohort.objects.annotate(n=Count("candidates")).filter(n=500).count() == 1
    assert Enrolment.objects.values("candidate").distinct().count() == 525
    # Every attempt has one judgement per criterion of its unit.
    for attempt in Assessment.objects.select_related("enrolment").order_by("?")[:50]:
        criteria = PerformanceCriterion.objects.filter(outcome__unit=attempt.enrolment.unit_id)
        assert attempt.judgements.count() == criteria.count()
    signed = Assessment.objects.filter(status="signed_off")
    assert signed.count() == SignOff.objects.count() > 0
    assert not Judgement.objects.filter(assessment__in=signed, verdict="").exists()
    # A satisfactory judgement follows the rules of evidence, and is in the audit trail.
    satisfactory = Judgement.objects.filter(verdict="satisfactory", carried_forward=False)
    assert not satisfactory.filter(valid=False).exists()
    assert AuditEntry.objects.filter(action="judgement changed").count() == satisfactory.count() + (
        Judgement.objects.filter(verdict="not_yet").count()
    )
    assert Assessment.objects.filter(attempt=2).exists()  # resubmissions
    assert Amendment.objects.count() == AuditEntry.objects.filter(action="result amended").count()
    # Files are real, in storage, with their SHA-256.
    stored = EvidenceFile.objects.first()
    assert stored.file.read() and len(stored.sha256) == 64
    assert Evidence.objects.filter(kind="written").exists()
    assert ModerationRound.objects.filter(sampled_at__isnull=False).exists()
    assert ModerationRound.objects.filter(sampled_at__isnull=True).exists()
    assert ModerationReview.objects.exists()
    # Its history is chained as the services chain it: every chain verifies.
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "every chain verifies" in out.getvalue()
    with pytest.raises(CommandError, match="already been seeded"):
        call_command("seed_scale", candidates=525)
