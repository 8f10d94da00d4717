"""Turn assessment and moderation events into notifications for the right people."""

from collections import defaultdict

from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from assessments import signals

from .models import Kind
from .services import notify


def _unit(assessment):
    unit = assessment.enrolment.unit
    return f"{unit.display_code} {unit.title}"


def _when(moment):
    return date_format(timezone.localtime(moment), "j F Y")


@receiver(signals.attempt_submitted)
def tell_assessor_of_submission(sender, assessment, by, **kwargs):
    enrolment = assessment.enrolment
    notify(
        kind=Kind.SUBMITTED,
        recipients=[enrolment.assessor],
        subject=f"{enrolment.candidate} submitted {enrolment.unit.display_code} for judgement",
        body=(
            f"{enrolment.candidate} submitted attempt {assessment.attempt} of {_unit(assessment)} "
            f"on {_when(assessment.submitted_at)}. It is waiting in your queue."
        ),
        url=assessment.get_absolute_url(),
        actor=by,
    )


@receiver(signals.result_signed_off)
def tell_candidate_of_result(sender, assessment, sign_off, **kwargs):
    result = assessment.enrolment.unit.result_label(sign_off.result)
    notify(
        kind=Kind.SIGNED_OFF,
        recipients=[assessment.enrolment.candidate],
        subject=f"Your result for {assessment.enrolment.unit.display_code}: {result}",
        body=(
            f"{sign_off.signed_by} signed off attempt {assessment.attempt} of "
            f"{_unit(assessment)} on {_when(sign_off.signed_at)}: "
            f"{result}. Their feedback on each criterion is on the attempt's page."
        ),
        url=assessment.get_absolute_url(),
        actor=sign_off.signed_by,
    )


@receiver(signals.attempt_reopened)
def tell_candidate_of_resubmission(sender, assessment, previous, **kwargs):
    remaining = previous.judgements.exclude(verdict="satisfactory").count()
    notify(
        kind=Kind.RESUBMISSION,
        recipients=[assessment.enrolment.candidate],
        subject=f"Attempt {assessment.attempt} of {assessment.enrolment.unit.display_code} is open",
        body=(
            f"Attempt {assessment.attempt} of {_unit(assessment)} is open for you to resubmit. "
            f"{remaining} criteria still need evidence; what was satisfactory is carried forward. "
            "The page lists what to do next for each one."
        ),
        url=assessment.get_absolute_url(),
    )


@receiver(signals.result_amended)
def tell_of_amendment(sender, amendment, **kwargs):
    assessment = amendment.assessment
    enrolment = assessment.enrolment
    unit = enrolment.unit
    notify(
        kind=Kind.AMENDED,
        recipients=[enrolment.candidate, enrolment.assessor],
        subject=f"Result amended: {enrolment.candidate} in {unit.display_code}",
        body=(
            f"{amendment.amended_by} amended the result of attempt {assessment.attempt} of "
            f"{_unit(assessment)} for {enrolment.candidate} from "
            f"{unit.result_label(amendment.previous_result)} to "
            f"{unit.result_label(amendment.new_result)}. Reason: {amendment.reason}"
        ),
        url=assessment.get_absolute_url(),
        actor=amendment.amended_by,
    )


@receiver(signals.samples_assigned)
def tell_moderators_of_samples(sender, samples, by, **kwargs):
    by_moderator = defaultdict(list)
    for sample in samples:
        by_moderator[sample.moderator].append(sample)
    for moderator, assigned in by_moderator.items():
        round_ = assigned[0].round
        count = len(assigned)
        decisions = "decision" if count == 1 else "decisions"
        notify(
            kind=Kind.SAMPLE_ASSIGNED,
            recipients=[moderator],
            subject=f"{count} {decisions} to moderate in {round_.name}",
            body=(
                f"{by} assigned you {count} sampled {decisions} to moderate in {round_}. "
                "Review each attempt and its evidence, then record your review."
            ),
            url=reverse("moderation:my_reviews"),
            actor=by,
        )


@receiver(signals.sample_reviewed)
def tell_assessor_of_moderation(sender, review, by, **kwargs):
    sample = review.sample
    enrolment = sample.assessment.enrolment
    notify(
        kind=Kind.MODERATED,
        recipients=[sample.assessor],
        subject=f"Moderation of your decision for {enrolment.candidate} "
        f"({enrolment.unit.display_code})",
        body=(
            f"A moderator reviewed your decision for {enrolment.candidate} in "
            f"{_unit(sample.assessment)}: {review.verdict_label.lower()}. You can read the review "
            "and respond to it."
        ),
        url=reverse("moderation:decision", args=[sample.pk]),
        actor=by,
    )
