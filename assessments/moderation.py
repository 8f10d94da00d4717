"""Moderation: sample signed-off decisions, record moderators' reviews, report.

NZQA external moderation asks for learner samples per unit standard showing
a range of outcomes and reports "x of y assessor judgements verified"; AU
validation requires that validators were not involved in the assessment.
Views call these functions; each write is atomic and raises
``ValidationError`` (or ``PermissionDenied``) leaving the database unchanged.
A review never changes the learner's result.
"""

import csv
import io
import logging
import math
import random
import secrets
import threading
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Prefetch, Q
from django.utils import timezone

from assessment_portal.dates import validate_plausible_date
from assessment_portal.people import matching
from assessment_portal.queries import NAME_FIELDS, fields_of
from assessment_portal.stored_files import delete_quietly, save_new
from evidence.models import EvidenceMapping
from standards.models import Unit

from . import audit, moderation_tasks, signals
from .models import (
    Assessment,
    AssessorResponse,
    AuditEntry,
    Enrolment,
    Judgement,
    ModeratedCriterion,
    ModerationExport,
    ModerationReview,
    ModerationRound,
    ModerationSample,
    ModerationTally,
)
from .pdf import attempt_evidence, render_pdf

audit_log = logging.getLogger("assessment_portal.audit")
User = get_user_model()

# (minimum per assessor, percent per assessor). NZQA asks for 3 learner samples
# per unit standard; AU validation is risk-based, so 5 or 10% is a starting
# point the administrator adjusts per round.
DEFAULT_RULES = {Unit.Framework.NZQA: (3, 0), Unit.Framework.AU: (5, 10)}

# Audit actions that make someone part of the assessment (AU: validators must not be).
ASSESSING_ACTIONS = ["judgement changed", "signed off", "result amended"]

SEED_LIMIT = 2**31  # fits the seed column on every database


def default_rule(unit):
    return DEFAULT_RULES[unit.framework]


def _period_bounds(start, end):
    """Dates are the administrator's local calendar days, both inclusive."""
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz),
    )


def population(unit, period_start, period_end):
    """Attempts of ``unit`` signed off in the period, in primary-key order."""
    since, until = _period_bounds(period_start, period_end)
    return Assessment.objects.filter(
        enrolment__unit=unit,
        status=Assessment.Status.SIGNED_OFF,
        sign_off__signed_at__gte=since,
        sign_off__signed_at__lt=until,
    ).order_by("pk")


@transaction.atomic
def create_round(*, unit, name, period_start, period_end, by, minimum=None, percent=None):
    """Open a round and record its population; the sample is drawn or picked next."""
    if not by.is_administrator:
        raise PermissionDenied
    validate_plausible_date(period_start)
    validate_plausible_date(period_end)
    if period_end < period_start:
        raise ValidationError("The period must end on or after its first day.")
    default_minimum, default_percent = default_rule(unit)
    minimum = default_minimum if minimum is None else minimum
    percent = default_percent if percent is None else percent
    if minimum < 1 or not 0 <= percent <= 100:
        raise ValidationError("Sample at least 1 per assessor, and a percentage from 0 to 100.")
    attempts = population(unit, period_start, period_end)
    members = list(attempts.values_list("pk", flat=True))
    if not members:
        raise ValidationError(
            f"No attempts at {unit.display_code} were signed off between "
            f"{period_start:%d %b %Y} and {period_end:%d %b %Y}."
        )
    round_ = ModerationRound.objects.create(
        unit=unit,
        name=name,
        period_start=period_start,
        period_end=period_end,
        minimum_per_assessor=minimum,
        percent_per_assessor=percent,
        population_by_assessor=population_by_assessor(attempts),
        created_by=by,
    )
    round_.population.set(members)
    audit_log.info(
        "moderation round created: round=%s unit=%s population=%s by=%s",
        round_.pk,
        unit.code,
        len(members),
        by.pk,
    )
    return round_


# --- sampling ------------------------------------------------------------------------


def filter_population(round_, params):
    """``round_``'s population narrowed by the population page's filters: assessor (who
    signed off), result, reassessments only, and the candidate's name or identifier.

    Returns the round's membership rows (``assessment_id``) and the filters as applied:
    unfiltered, they are counted without reading the attempts.
    """
    filters = {
        "assessor": params.get("assessor", ""),
        "result": params.get("result", ""),
        "reassessment": params.get("reassessment", ""),
        "q": params.get("q", "").strip(),
    }
    members = ModerationRound.population.through.objects.filter(moderationround=round_)
    if filters["assessor"].isdigit():
        members = members.filter(assessment__sign_off__signed_by=filters["assessor"])
    if filters["result"] in Assessment.Result.values:
        members = members.filter(assessment__result=filters["result"])
    if filters["reassessment"]:
        members = members.filter(assessment__attempt__gt=1)
    return matching(members, filters["q"], via="assessment__enrolment__candidate__"), filters


def _population_of(round_):
    return list(
        round_.population.select_related(
            "sign_off", "enrolment__candidate", "enrolment__unit"
        ).order_by("pk")
    )


def sample_target(size, *, minimum, percent):
    """How many of an assessor's ``size`` decisions the rule asks for."""
    return min(size, max(minimum, math.ceil(size * percent / 100)))


def select_by_rule(attempts, *, seed, minimum, percent):
    """The rule-drawn sample of ``attempts`` (signed off, in primary-key order).

    Per assessor: at least ``minimum`` or ``percent``% of their decisions,
    whichever is larger, capped at how many they made; and, where that
    assessor's decisions include them, a reassessment, a not-achieved and
    an achieved result, even if that takes the sample past the target.
    The same seed and population always give the same sample.
    """
    rng = random.Random(seed)
    by_assessor = defaultdict(list)
    for attempt in attempts:
        by_assessor[attempt.sign_off.signed_by_id].append(attempt)
    strata = [
        lambda a: a.attempt > 1,
        lambda a: a.result == Assessment.Result.NOT_ACHIEVED,
        lambda a: a.result == Assessment.Result.ACHIEVED,
    ]
    chosen = []
    for assessor_id in sorted(by_assessor):
        decisions = by_assessor[assessor_id]
        picked = []
        for in_stratum in strata:
            if any(in_stratum(a) for a in picked):
                continue
            candidates = [a for a in decisions if in_stratum(a)]
            if candidates:
                picked.append(rng.choice(candidates))
        rest = [a for a in decisions if a not in picked]
        target = sample_target(len(decisions), minimum=minimum, percent=percent)
        picked += rng.sample(rest, max(0, target - len(picked)))
        chosen += picked
    return sorted(chosen, key=lambda a: a.pk)


def involved_people(attempts):
    """For each attempt, everyone who took part in assessing it (by primary key)."""
    return _add_involved(
        {
            a.pk: {a.enrolment.assessor_id, a.enrolment.candidate_id, a.sign_off.signed_by_id}
            for a in attempts
        }
    )


def _add_involved(involved):
    """``involved`` (attempt pk: its candidate, assessor and signer) with everyone who
    judged, signed off or amended the attempt, or recorded evidence in it."""
    # One query for both. Unordered, the parts and the whole: the entries' default
    # order names columns the union does not select.
    actors = (
        AuditEntry.objects.filter(assessment__in=involved, action__in=ASSESSING_ACTIONS)
        .values_list("assessment_id", "actor_id")
        .order_by()
    )
    recorders = (
        Assessment.evidence.through.objects.filter(assessment__in=involved)
        .values_list("assessment_id", "evidence__recorded_by_id")
        .order_by()
    )
    for assessment_id, user_id in actors.union(recorders, all=True).order_by():
        involved[assessment_id].add(user_id)
    return involved


# How someone took part in assessing an attempt, in words, for the refusal messages.
_INVOLVEMENT = {
    "judgement changed": "judged its criteria",
    "signed off": "signed it off",
    "result amended": "amended its result",
}


def involvement(user, attempt, evidence=None):
    """How ``user`` took part in assessing ``attempt``, in words (empty when they did not).

    ``attempt`` needs its enrolment and sign-off loaded; ``evidence`` is the attempt's
    evidence when the caller has read it already (the review page), else it is queried.
    Checked afresh at every step (drawing, reviewing, reassigning), because amending a
    result or reassigning an enrolment can make a moderator part of the decision after
    the sample was drawn.
    """
    enrolment = attempt.enrolment
    ways = []
    if user.pk == enrolment.candidate_id:
        ways.append("is its candidate")
    if user.pk == enrolment.assessor_id:
        ways.append("is the enrolment's assessor")
    actions = set(
        AuditEntry.objects.filter(
            assessment=attempt, actor=user, action__in=ASSESSING_ACTIONS
        ).values_list("action", flat=True)
    )
    if user.pk == attempt.sign_off.signed_by_id:
        actions.add("signed off")
    ways += [words for action, words in _INVOLVEMENT.items() if action in actions]
    if evidence is not None:
        recorded = any(item.recorded_by_id == user.pk for item in evidence)
    else:
        recorded = Assessment.evidence.through.objects.filter(
            assessment=attempt, evidence__recorded_by=user
        ).exists()
    if recorded:
        ways.append("recorded evidence in it")
    return ways


def conflicted_samples(samples):
    """Those of ``samples`` (a page of them) not yet reviewed whose moderator took part in
    the decision since it was drawn (by amending it, or by becoming the enrolment's
    assessor), by primary key.

    ``samples`` need their review and the attempt's enrolment loaded; the sample's
    assessor is who signed the decision off."""
    unreviewed = [s for s in samples if not s.is_reviewed]
    involved = _add_involved(
        {
            s.assessment_id: {
                s.assessment.enrolment.assessor_id,
                s.assessment.enrolment.candidate_id,
                s.assessor_id,
            }
            for s in unreviewed
        }
    )
    return {s.pk for s in unreviewed if s.moderator_id in involved[s.assessment_id]}


def _require_moderator(user):
    if not (user.is_moderator and user.is_active) or user.is_candidate:
        raise ValidationError(f"{user} is not an active moderator.")


def _assign(attempts, moderators):
    """A moderator for each attempt: the least loaded one not involved in it."""
    if not moderators:
        raise ValidationError("Choose at least one moderator.")
    for moderator in moderators:
        _require_moderator(moderator)
    involved = involved_people(attempts)
    load = {m.pk: 0 for m in moderators}
    assignment = []
    for attempt in attempts:
        eligible = [m for m in moderators if m.pk not in involved[attempt.pk]]
        if not eligible:
            raise ValidationError(
                f"None of the chosen moderators may moderate {attempt}: each took part in "
                "assessing it. Add another moderator."
            )
        moderator = min(eligible, key=lambda m: load[m.pk])
        load[moderator.pk] += 1
        assignment.append((attempt, moderator))
    return assignment


def _lock_unsampled(round_):
    round_ = ModerationRound.objects.select_for_update().select_related("unit").get(pk=round_.pk)
    if round_.is_sampled:
        raise ValidationError("This round's sample has already been chosen.")
    return round_


def _record_sample(round_, assignment, *, by, selection, seed=None):
    now = timezone.now()
    round_.selection = selection
    round_.seed = seed
    round_.sampled_at = now
    round_.sampled_by = by
    round_.save(update_fields=["selection", "seed", "sampled_at", "sampled_by"])
    samples = ModerationSample.objects.bulk_create(
        ModerationSample(
            round=round_,
            assessment=attempt,
            assessor_id=attempt.sign_off.signed_by_id,
            moderator=moderator,
            result=attempt.result,
            assigned_at=now,
        )
        for attempt, moderator in assignment
    )
    audit_log.info(
        "moderation sample chosen: round=%s selection=%s seed=%s attempts=%s by=%s",
        round_.pk,
        selection,
        seed,
        [attempt.pk for attempt, _ in assignment],
        by.pk,
    )
    signals.samples_assigned.send(ModerationSample, samples=samples, by=by)
    return samples


@transaction.atomic
def draw_sample(*, round_, by, moderators, seed=None):
    """Draw the sample by the round's rule; a new seed is generated (and recorded) if none."""
    if not by.is_administrator:
        raise PermissionDenied
    round_ = _lock_unsampled(round_)
    if seed is None:
        seed = secrets.randbelow(SEED_LIMIT)
    if not 0 <= seed < SEED_LIMIT:
        raise ValidationError(f"The seed must be a whole number from 0 to {SEED_LIMIT - 1}.")
    chosen = select_by_rule(
        _population_of(round_),
        seed=seed,
        minimum=round_.minimum_per_assessor,
        percent=round_.percent_per_assessor,
    )
    return _record_sample(
        round_,
        _assign(chosen, moderators),
        by=by,
        selection=ModerationRound.Selection.RULE,
        seed=seed,
    )


@transaction.atomic
def pick_sample(*, round_, by, assessments, moderators):
    """Record a sample the administrator picked by hand from the round's population."""
    if not by.is_administrator:
        raise PermissionDenied
    round_ = _lock_unsampled(round_)
    members = {a.pk: a for a in _population_of(round_)}
    wanted = {a.pk for a in assessments}
    if not wanted:
        raise ValidationError("Tick at least one attempt to moderate.")
    if wanted - members.keys():
        raise ValidationError("Pick attempts from this round's population only.")
    chosen = [members[pk] for pk in sorted(wanted)]
    return _record_sample(
        round_, _assign(chosen, moderators), by=by, selection=ModerationRound.Selection.HAND
    )


@transaction.atomic
def assign_moderator(*, sample, moderator, by):
    """Hand an unreviewed sample to another moderator."""
    if not by.is_administrator:
        raise PermissionDenied
    sample = (
        ModerationSample.objects.select_for_update(of=("self",))
        .select_related("assessment__sign_off", "assessment__enrolment")
        .get(pk=sample.pk)
    )
    if ModerationReview.objects.filter(sample=sample).exists():
        raise ValidationError("This sample has been reviewed; its moderator cannot change.")
    attempt = sample.assessment
    _require_moderator(moderator)
    _lock_enrolment(attempt)
    ways = involvement(moderator, attempt)
    if ways:
        raise ValidationError(
            f"{moderator} took part in assessing {attempt} ({moderator} {_and(ways)}) and "
            "cannot moderate it: a moderator must have had no part in the decision. Choose "
            "another moderator."
        )
    previous = sample.moderator_id
    sample.moderator = moderator
    sample.assigned_at = timezone.now()
    sample.save(update_fields=["moderator", "assigned_at"])
    audit_log.info(
        "moderator reassigned: sample=%s from=%s to=%s by=%s",
        sample.pk,
        previous,
        moderator.pk,
        by.pk,
    )
    signals.samples_assigned.send(ModerationSample, samples=[sample], by=by)
    return sample


@dataclass
class SizeRow:
    assessor: object
    population: int = 0
    sample: int = 0


def population_by_assessor(attempts):
    """{assessor pk (as text, as JSON keys are): how many of ``attempts`` they signed off}."""
    counts = attempts.order_by().values_list("sign_off__signed_by").annotate(n=Count("pk"))
    return {str(assessor_id): n for assessor_id, n in counts}


def sizes(round_):
    """Population and sample size per assessor (who signed off), and in total."""
    sample_counts = round_.samples.values_list("assessor").annotate(n=Count("pk"))
    rows = {}
    for assessor_id, n in round_.population_by_assessor.items():
        rows.setdefault(int(assessor_id), SizeRow(None)).population = n
    for assessor_id, n in sample_counts:
        rows.setdefault(assessor_id, SizeRow(None)).sample = n
    for user in User.objects.filter(pk__in=rows).only(*NAME_FIELDS):
        rows[user.pk].assessor = user
    per_assessor = sorted(rows.values(), key=lambda r: str(r.assessor))
    return {
        "population": round_.population_size,
        "sample": sum(r.sample for r in per_assessor),
        "per_assessor": per_assessor,
    }


# --- reviews ---------------------------------------------------------------------------


def review_context(sample):
    """The sampled attempt with its judgements and evidence, read in a fixed number of queries.

    ``sample`` comes with its round and the round's unit. Each judgement carries
    ``covered_items`` (the range items it covers), each item of evidence its
    ``file_list`` (``pdf.attempt_evidence``); ``evidence`` pairs each submitted item with
    the numbers of this unit's criteria the candidate mapped it to. Read by plain queries,
    not prefetched: Django's prefetching cost ~1 ms of the review page at 10,000
    candidates (issue 13).
    """
    assessment = Assessment.objects.select_related(
        "enrolment__candidate", "sign_off__signed_by"
    ).get(pk=sample.assessment_id)
    # The round's unit, which the sample has: one table fewer for PostgreSQL to plan.
    assessment.enrolment.unit = sample.round.unit
    # Ordered within the one attempt and unit: the models' default orderings would join
    # the attempt, enrolment, statement and unit only to sort by them.
    judgements = list(
        assessment.judgements.select_related("criterion").order_by("criterion__sort_key")
    )
    covered = defaultdict(list)
    for link in (
        Judgement.range_items.through.objects.filter(judgement__assessment=assessment)
        .select_related("rangeitem")
        .order_by("rangeitem__range_statement__position", "rangeitem__position")
    ):
        covered[link.judgement_id].append(link.rangeitem)
    for judgement in judgements:
        judgement.covered_items = covered[judgement.pk]
    evidence = attempt_evidence(assessment, "recorded_by")
    mapped = defaultdict(list)
    if evidence:
        for evidence_id, number in (
            EvidenceMapping.objects.filter(
                evidence__in=evidence, criterion__outcome__unit=assessment.enrolment.unit_id
            )
            .order_by("criterion__sort_key")
            .values_list("evidence_id", "criterion__number")
        ):
            mapped[evidence_id].append(number)
    return {
        "assessment": assessment,
        "judgements": judgements,
        "evidence": [(item, mapped[item.pk]) for item in evidence],
    }


def _add_to_tallies(sample, verdicts):
    """Count a review's ``verdicts`` ((criterion id, agrees) pairs) in its round's
    tallies for the assessor: the rows made if missing, then added to where they stand,
    so that reviews recorded at the same moment both count."""
    ModerationTally.objects.bulk_create(
        [
            ModerationTally(
                round_id=sample.round_id, assessor_id=sample.assessor_id, criterion_id=criterion
            )
            for criterion, _ in verdicts
        ],
        ignore_conflicts=True,
    )
    tallies = ModerationTally.objects.filter(round=sample.round_id, assessor=sample.assessor_id)
    tallies.filter(criterion__in=[c for c, agrees in verdicts if agrees]).update(
        verified=F("verified") + 1, total=F("total") + 1
    )
    tallies.filter(criterion__in=[c for c, agrees in verdicts if not agrees]).update(
        total=F("total") + 1
    )


@transaction.atomic
def submit_review(*, sample, by, criteria, agrees_with_result, recommendation):
    """Record the moderator's final review of a sampled attempt.

    ``criteria`` maps each judgement's primary key to ``(agrees, reason)``;
    every judgement of the attempt must be covered, and each disagreement
    needs its reason. The learner's result is left exactly as it is.
    """
    sample = (
        ModerationSample.objects.select_for_update(of=("self",))
        .select_related("assessment__enrolment", "assessment__sign_off", "round")
        .get(pk=sample.pk)
    )
    if by.pk != sample.moderator_id:
        raise PermissionDenied
    # Losing the moderator flag after assignment ends the right to review.
    _require_moderator(by)
    _lock_enrolment(sample.assessment)
    refusal = review_refusal(sample, by)
    if refusal:
        audit_log.info("review refused, moderator involved: sample=%s by=%s", sample.pk, by.pk)
        raise ValidationError(refusal)
    if ModerationReview.objects.filter(sample=sample).exists():
        raise ValidationError("This attempt has already been reviewed; reviews are final.")
    judgements = {j.pk: j for j in sample.assessment.judgements.select_related("criterion")}
    if set(criteria) != set(judgements):
        raise ValidationError("Give a view on every criterion of the attempt.")
    problems = [
        f"Give the reason you disagree with the judgement of {judgements[pk].criterion.number}."
        for pk, (agrees, reason) in criteria.items()
        if not agrees and not reason.strip()
    ]
    recommendation = recommendation.strip()
    if not agrees_with_result and not recommendation:
        problems.append("Recommend what should happen, as you disagree with the result.")
    if problems:
        raise ValidationError(problems)
    try:
        with transaction.atomic():
            review = ModerationReview.objects.create(
                sample=sample,
                moderator=by,
                agrees_with_result=agrees_with_result,
                recommendation=recommendation,
            )
    except IntegrityError:
        raise ValidationError("This attempt has just been reviewed by someone else.") from None
    ModeratedCriterion.objects.bulk_create(
        ModeratedCriterion(
            review=review,
            judgement=judgements[pk],
            agrees=agrees,
            reason="" if agrees else reason.strip(),
        )
        for pk, (agrees, reason) in sorted(criteria.items())
    )
    _add_to_tallies(
        sample, [(judgements[pk].criterion_id, agrees) for pk, (agrees, _) in criteria.items()]
    )
    disagreed = sorted(
        (judgements[pk].criterion.number for pk, (agrees, _) in criteria.items() if not agrees),
    )
    # The review itself goes into the attempt's chain, so it is covered by its hashes.
    audit.append(
        sample.assessment,
        action="moderated",
        actor=by,
        after={
            "round": sample.round_id,
            "review": review.pk,
            "agrees_with_result": agrees_with_result,
            "recommendation": recommendation,
            "disagreed_criteria": disagreed,
            "criteria": {
                judgements[pk].criterion.number: {
                    "agrees": agrees,
                    "reason": "" if agrees else reason.strip(),
                }
                for pk, (agrees, reason) in criteria.items()
            },
        },
    )
    audit_log.info(
        "moderated: sample=%s assessment=%s agrees_with_result=%s disagreed=%s by=%s",
        sample.pk,
        sample.assessment_id,
        agrees_with_result,
        disagreed,
        by.pk,
    )
    signals.sample_reviewed.send(ModerationSample, review=review, by=by)
    return review


def _lock_enrolment(attempt):
    """Queue behind a reassignment of the attempt's enrolment (services.reassign_assessor),
    and re-read its assessor, so independence is checked against who assesses it now."""
    attempt.enrolment = Enrolment.objects.select_for_update().get(pk=attempt.enrolment_id)


def review_refusal(sample, moderator, evidence=None):
    """Why ``moderator`` may no longer review ``sample`` (None if they may), and what to do.

    ``evidence``: the attempt's evidence, if already read (see ``involvement``)."""
    ways = involvement(moderator, sample.assessment, evidence)
    if not ways:
        return None
    return (
        f"You can no longer review this decision: you {_and(ways, you=True)}"
        ", and a moderator must have had no part in the decision. An administrator can give "
        f"the sample to another moderator (Moderation, round “{sample.round.name}”, “change” "
        "beside the moderator)."
    )


def _and(ways, you=False):
    if you:
        ways = [w.replace("is ", "are ", 1) if w.startswith("is ") else w for w in ways]
    return ways[0] if len(ways) == 1 else ", ".join(ways[:-1]) + " and " + ways[-1]


def respond(*, review, by, text):
    """The assessor's reply to a review of their decision, kept with its time."""
    if by.pk != review.sample.assessor_id:
        raise PermissionDenied
    text = text.strip()
    if not text:
        raise ValidationError("Write your response.")
    with transaction.atomic():
        response = AssessorResponse.objects.create(review=review, text=text, responded_by=by)
        audit.append(
            review.sample.assessment,
            action="moderation response",
            actor=by,
            after={"review": review.pk, "response": response.pk, "text": text},
        )
    audit_log.info("moderation response: review=%s by=%s", review.pk, by.pk)
    return response


# --- summary ---------------------------------------------------------------------------


@dataclass
class Tally:
    verified: int = 0
    total: int = 0

    def __str__(self):
        return f"{self.verified} of {self.total}"


@dataclass
class AssessorTally:
    assessor: object
    judgements: Tally = field(default_factory=Tally)
    results: Tally = field(default_factory=Tally)


@dataclass
class CriterionTally:
    number: str
    text: str
    judgements: Tally = field(default_factory=Tally)
    disagreements: list = field(default_factory=list)

    @property
    def inconsistent(self):
        return bool(self.disagreements)


def summary(round_):
    """ "x of y" judgements (and results) verified: overall, per assessor, per criterion.

    A criterion is judged inconsistently when a moderator disagreed with its
    judgement in any sample; those disagreements are listed with their reasons.
    """
    moderated = ModeratedCriterion.objects.filter(review__sample__round=round_)
    # The tallies by assessor and criterion: the per-assessor and per-criterion tallies
    # and the overall one are sums of their rows.
    cells = round_.tallies.values(
        "assessor",
        "criterion",
        "criterion__number",
        "criterion__text",
        "criterion__sort_key",
        "verified",
        "total",
    ).order_by()
    per_assessor, per_criterion, sort_keys = {}, {}, {}
    judgements = Tally()
    for row in cells:
        criterion = row["criterion"]
        if criterion not in per_criterion:
            per_criterion[criterion] = CriterionTally(
                row["criterion__number"], row["criterion__text"]
            )
            sort_keys[criterion] = row["criterion__sort_key"]
        assessor = per_assessor.setdefault(row["assessor"], AssessorTally(None))
        for tally in (assessor.judgements, per_criterion[criterion].judgements, judgements):
            tally.verified += row["verified"]
            tally.total += row["total"]
    result_counts = (
        ModerationReview.objects.filter(sample__round=round_)
        .values("sample__assessor")
        .annotate(verified=Count("pk", filter=Q(agrees_with_result=True)), total=Count("pk"))
        .order_by()
    )
    results = Tally()
    for row in result_counts:
        tally = per_assessor.setdefault(row["sample__assessor"], AssessorTally(None))
        tally.results = Tally(row["verified"], row["total"])
        results.verified += row["verified"]
        results.total += row["total"]
    for user in User.objects.filter(pk__in=per_assessor).only(*NAME_FIELDS):
        per_assessor[user.pk].assessor = user

    candidate = "review__sample__assessment__enrolment__candidate"
    disagreements = (
        moderated.filter(agrees=False)
        .select_related("judgement", candidate, "review__moderator")
        .only(
            "reason",
            "judgement__criterion_id",
            "review__sample__assessment__attempt",
            *fields_of(candidate, NAME_FIELDS),
            *fields_of("review__moderator", NAME_FIELDS),
        )
    )
    for item in disagreements.order_by("review__sample__assessment_id", "pk"):
        per_criterion[item.judgement.criterion_id].disagreements.append(item)

    criteria = [per_criterion[pk] for pk in sorted(per_criterion, key=sort_keys.get)]
    return {
        "judgements": judgements,
        "results": results,
        "samples": round_.samples.count(),
        # Each review is one result verified or not.
        "reviewed": results.total,
        "per_assessor": sorted(per_assessor.values(), key=lambda t: str(t.assessor)),
        "per_criterion": criteria,
        "inconsistent": [c for c in criteria if c.inconsistent],
    }


# --- the report --------------------------------------------------------------------------


def review_prefetches():
    """A sample's review with its per-criterion verdicts and the assessor's responses."""
    return [
        Prefetch(
            "review__criteria",
            queryset=ModeratedCriterion.objects.select_related("judgement__criterion"),
        ),
        Prefetch(
            "review__responses",
            queryset=AssessorResponse.objects.select_related("responded_by"),
        ),
    ]


def report_samples(round_):
    """Every sample of the round with its review, read in a fixed number of queries."""
    return list(
        round_.samples.select_related(
            "assessment__enrolment__candidate",
            "assessor",
            "moderator",
            "review",
        )
        .prefetch_related(
            Prefetch(
                "assessment__judgements",
                queryset=Judgement.objects.select_related("criterion").order_by(
                    "criterion__sort_key"
                ),
            ),
            *review_prefetches(),
        )
        .order_by("assessment__enrolment__candidate__last_name", "assessment__pk")
    )


def report_rows(round_):
    """The CSV_HEADER columns, one row per sampled criterion judgement.

    Samples not yet reviewed have their moderator's cells blank.
    """
    unit = round_.unit
    rows = []
    for sample in report_samples(round_):
        candidate = sample.assessment.enrolment.candidate
        review = getattr(sample, "review", None)
        verdicts = {c.judgement_id: c for c in review.criteria.all()} if review else {}
        responses = (
            " | ".join(
                f"{timezone.localtime(r.responded_at):%Y-%m-%d %H:%M} {r.responded_by}: {r.text}"
                for r in review.responses.all()
            )
            if review
            else ""
        )
        for judgement in sample.assessment.judgements.all():
            moderated = verdicts.get(judgement.pk)
            rows.append(
                [
                    round_.name,
                    unit.display_code,
                    str(candidate),
                    candidate.student_identifier,
                    str(sample.assessor),
                    str(sample.moderator),
                    sample.assessment.attempt,
                    judgement.criterion.number,
                    judgement.get_verdict_display(),
                    "" if moderated is None else ("Yes" if moderated.agrees else "No"),
                    moderated.reason if moderated else "",
                    review.verdict_label if review else "",
                    review.recommendation if review else "",
                    responses,
                ]
            )
    return rows


CSV_HEADER = [
    "Round",
    "Unit",
    "Candidate",
    "Candidate identifier",
    "Assessor",
    "Moderator",
    "Attempt",
    "Criterion",
    "Assessor verdict",
    "Moderator agrees",
    "Reason",
    "Overall verdict",
    "Recommendation",
    "Assessor response",
]

# A spreadsheet runs a cell beginning with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """The cell as text a spreadsheet shows but never evaluates (OWASP CSV injection)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def build_csv(round_):
    """The report as CSV: UTF-8 with a byte-order mark, which Excel needs to read it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for row in report_rows(round_):
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def report_context(round_):
    unit = round_.unit
    round_sizes, round_summary = sizes(round_), summary(round_)
    tallies = {t.assessor.pk: t for t in round_summary["per_assessor"]}
    return {
        "title": f"Moderation report: {round_.name}, {unit.display_code} {unit.title}",
        "author": "Assessment Portal",
        "generated_at": timezone.now(),
        "running_head": f"Moderation · {round_.name} · {unit.display_code}",
        "round": round_,
        "unit": unit,
        "sizes": round_sizes,
        "summary": round_summary,
        "assessors": [
            (row, tallies.get(row.assessor.pk, AssessorTally(row.assessor)))
            for row in round_sizes["per_assessor"]
        ],
        "samples": report_samples(round_),
    }


def build_pdf(round_):
    return render_pdf("moderation/report.html", report_context(round_))


BUILDERS = {ModerationExport.Format.PDF: build_pdf, ModerationExport.Format.CSV: build_csv}


def request_export(*, round_, format, by):
    """Queue a report export; the background task builds it (see moderation_tasks)."""
    if not by.is_administrator:
        raise PermissionDenied
    if format not in BUILDERS:
        raise ValidationError("Choose PDF or CSV.")
    export = ModerationExport.objects.create(round=round_, format=format, created_by=by)
    result = moderation_tasks.build_moderation_export.enqueue(export.pk)
    # update(), not save(): with an inline backend the task has already finished
    # and saving this instance would put its status back to "queued".
    ModerationExport.objects.filter(pk=export.pk).update(task_result_id=str(result.id))
    audit_log.info(
        "moderation export requested: export=%s round=%s format=%s by=%s",
        export.pk,
        round_.pk,
        format,
        by.pk,
    )
    export.refresh_from_db()
    return export


# A running export's task touches its heartbeat this often; an export with no heartbeat
# for STALE_AFTER (a dozen missed beats) lost its worker: killed, out of memory, restarted.
# One running for longer than MAX_RUNNING is hung, however alive its heartbeat thread is:
# the largest round's PDF takes seconds. One queued for QUEUED_TOO_LONG found no worker.
HEARTBEAT_SECONDS = 10
STALE_AFTER = timedelta(minutes=2)
MAX_RUNNING = timedelta(minutes=30)
QUEUED_TOO_LONG = timedelta(hours=1)

EXPORT_FAILED = (
    "The report could not be built. Try again; if it fails again, ask the system "
    "administrator to check the log."
)
WORKER_DIED = (
    "The background worker building this report stopped without finishing (no sign of it "
    "for over {minutes} minutes), so it was given up and nothing was kept. Retry it."
)
WORKER_HUNG = (
    "Building this report took more than {minutes} minutes, so it was given up and nothing "
    "was kept. Retry it; if it happens again, ask the system administrator to check the log."
)
NO_WORKER = (
    "No background worker picked this report up within an hour, so it was given up. Check "
    "that the task worker (manage.py db_worker) is running, then retry."
)


@contextmanager
def _heartbeat(export_id):
    """Touch the export's heartbeat from a side thread while the build runs."""
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(HEARTBEAT_SECONDS):
                ModerationExport.objects.filter(
                    pk=export_id, status=ModerationExport.Status.RUNNING
                ).update(heartbeat_at=timezone.now())
        except Exception:
            audit_log.exception("moderation export heartbeat failed: export=%s", export_id)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"export-{export_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_export(export_id):
    """Build an export and store it under a server-generated name.

    The status moves queued -> running -> done (or failed, with a message for
    the administrator; the details go to the log). Only a queued export is
    built, so a task delivered twice does the work once; and only a running one
    is finished, so an export given up meanwhile (see fail_stale_exports) keeps
    no file. A failure at any point leaves no stored file behind.
    """
    now = timezone.now()
    claimed = ModerationExport.objects.filter(
        pk=export_id, status=ModerationExport.Status.QUEUED
    ).update(status=ModerationExport.Status.RUNNING, started_at=now, heartbeat_at=now)
    if not claimed:
        return None
    export = ModerationExport.objects.select_related("round__unit").get(pk=export_id)
    running = ModerationExport.objects.filter(pk=export.pk, status=ModerationExport.Status.RUNNING)
    try:
        with _heartbeat(export.pk):
            content = BUILDERS[export.format](export.round)
            name = save_new(
                f"moderation-exports/{uuid.uuid4().hex}.{export.format}", ContentFile(content)
            )
    except Exception:
        audit_log.exception("moderation export failed: export=%s", export.pk)
        running.update(
            status=ModerationExport.Status.FAILED,
            error=EXPORT_FAILED,
            finished_at=timezone.now(),
        )
        raise
    try:
        finished = running.update(
            status=ModerationExport.Status.DONE, file=name, finished_at=timezone.now()
        )
    except BaseException:
        delete_quietly([name])
        raise
    if not finished:
        delete_quietly([name])
        audit_log.info("moderation export finished after it was given up: export=%s", export.pk)
        return None
    return name


def fail_stale_exports(exports):
    """Mark failed, with the reason, each of ``exports`` whose worker died, hung or never came.

    Called whenever exports are shown, so the page and its status polling see the
    failure (and stop polling) without anyone having to clean up. One query when
    nothing is stale.
    """
    now = timezone.now()
    Status = ModerationExport.Status
    reasons = {
        "died": (
            Q(status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
            | Q(status=Status.RUNNING, heartbeat_at__isnull=True, started_at__lt=now - STALE_AFTER),
            WORKER_DIED.format(minutes=int(STALE_AFTER.total_seconds() // 60)),
        ),
        "hung": (
            Q(status=Status.RUNNING, started_at__lt=now - MAX_RUNNING),
            WORKER_HUNG.format(minutes=int(MAX_RUNNING.total_seconds() // 60)),
        ),
        "never picked up": (
            Q(status=Status.QUEUED, created_at__lt=now - QUEUED_TOO_LONG),
            NO_WORKER,
        ),
    }
    any_stale = Q()
    for condition, _ in reasons.values():
        any_stale |= condition
    if not exports.filter(any_stale).exists():
        return 0
    given_up = 0
    for what, (condition, reason) in reasons.items():
        # The condition again in the update: an export that finished meanwhile stays done.
        stale = ModerationExport.objects.filter(condition, pk__in=exports.values("pk"))
        pks = list(stale.values_list("pk", flat=True))
        if pks:
            given_up += ModerationExport.objects.filter(condition, pk__in=pks).update(
                status=Status.FAILED, error=reason, finished_at=now
            )
            audit_log.warning("moderation exports given up (%s): exports=%s", what, pks)
    return given_up


def retry_export(*, export, by):
    """Queue a new export like a failed one; the failed one stays listed with its reason."""
    if export.status != ModerationExport.Status.FAILED:
        raise ValidationError("Only a failed report can be retried.")
    return request_export(round_=export.round, format=export.format, by=by)


def export_filename(export):
    round_ = export.round
    return f"moderation-{round_.unit.display_code}-round-{round_.pk}.{export.format}"
