"""The assessor's review of submitted evidence, one item at a time (evidence-first judging).

For an item in an attempt, the assessor confirms or rejects each of the
candidate's mappings to that attempt's unit. The latest decision is kept in
``MappingDecision`` and every change goes into the attempt's audit trail.
Confirmed mappings then feed the criterion's judgement on the marking page:
their range items are ticked for an unjudged criterion, and each criterion
lists which evidence was confirmed or rejected.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery, prefetch_related_objects
from django.utils import timezone

from assessments import audit
from assessments.models import Assessment
from assessments.services import can_judge

from .models import EvidenceMapping, MappingDecision


def _with_decision(mappings, assessment):
    """Annotate each mapping with the attempt's decision on it ("" while undecided)."""
    decisions = MappingDecision.objects.filter(assessment=assessment, mapping=OuterRef("pk"))
    return mappings.annotate(
        decision=Subquery(decisions.values("decision")[:1]),
        decision_reason=Subquery(decisions.values("reason")[:1]),
    )


def mappings_in_attempt(assessment, *, criteria=None, evidence=None, claims=True):
    """The candidate's mappings of the attempt's submitted evidence to its unit, with decisions.

    Narrowed to some criteria (the marking page's rows) or one item (the panel).
    A constant number of queries: the mappings, and (with ``claims``) the range
    items each claims.
    """
    mappings = EvidenceMapping.objects.filter(evidence__in=assessment.evidence.all())
    if criteria is None:
        mappings = mappings.filter(
            criterion__outcome__unit=assessment.enrolment.unit_id
        ).select_related("criterion")
        order = ["criterion__outcome__sort_key", "criterion__sort_key", "evidence__title"]
    else:
        # Criteria of the attempt's unit, which the caller shows in its own order: neither
        # the unit nor the criteria are joined (~0.4 ms of the marking page at 10k).
        mappings = mappings.filter(criterion__in=criteria)
        order = ["evidence__title"]
    if evidence is not None:
        mappings = mappings.filter(evidence=evidence)
    mappings = _with_decision(mappings, assessment).select_related("evidence").order_by(*order)
    return mappings.prefetch_related("range_items") if claims else mappings


def by_criterion(mappings):
    grouped = {}
    for mapping in mappings:
        grouped.setdefault(mapping.criterion_id, []).append(mapping)
    return grouped


def read_confirmed_claims(mappings):
    """Read what the confirmed ones of ``mappings`` claim, for ``confirmed_range_items``.

    One query, none while nothing is confirmed: for mappings read without ``claims``.
    """
    confirmed = [m for m in mappings if m.decision == MappingDecision.Decision.CONFIRMED]
    prefetch_related_objects(confirmed, "range_items")


def confirmed_range_items(mappings):
    """The range items that confirmed mappings claim: ticked for an unjudged criterion."""
    return {
        item.pk
        for mapping in mappings
        if mapping.decision == MappingDecision.Decision.CONFIRMED
        for item in mapping.range_items.all()
    }


@transaction.atomic
def decide_mapping(*, assessment, mapping, by, decision, reason=""):
    """Record the assessor's decision on one mapping of an item in a submitted attempt."""
    assessment = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("enrolment")
        .get(pk=assessment.pk)
    )
    if not can_judge(by, assessment):
        raise PermissionDenied
    if assessment.status != Assessment.Status.SUBMITTED:
        raise ValidationError("This attempt is not awaiting judgement; its evidence is decided.")
    if decision not in MappingDecision.Decision.values:
        raise ValidationError("Confirm or reject the mapping.")
    if not mappings_in_attempt(assessment).filter(pk=mapping.pk).exists():
        raise ValidationError("That mapping is not part of this attempt.")
    reason = reason.strip()
    if decision == MappingDecision.Decision.REJECTED and not reason:
        raise ValidationError(
            f"Say why “{mapping.evidence}” does not show {mapping.criterion.number}."
        )
    existing = MappingDecision.objects.filter(assessment=assessment, mapping=mapping).first()
    before = {"decision": existing.decision, "reason": existing.reason} if existing else None
    if existing and existing.decision == decision and existing.reason == reason:
        return existing
    row, _ = MappingDecision.objects.update_or_create(
        assessment=assessment,
        mapping=mapping,
        defaults={
            "decision": decision,
            "reason": reason,
            "decided_by": by,
            "decided_at": timezone.now(),
        },
    )
    audit.append(
        assessment,
        action=f"mapping {decision}",
        actor=by,
        before=before,
        after={
            "evidence": mapping.evidence_id,
            "criterion": mapping.criterion.number,
            "decision": decision,
            "reason": reason,
        },
    )
    return row
