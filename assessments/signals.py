"""Signals the assessment and moderation services send when something happens.

Other apps (notifications; integrations: the results feed and webhooks) listen
to these, so assessments never imports them. Each is sent inside the service's
transaction, once its write is done: a receiver that writes rows commits or
rolls back with the event itself.
"""

from django.dispatch import Signal

# assessment, by: the candidate submitted an attempt for judgement.
attempt_submitted = Signal()
# assessment, sign_off: the assessor signed off a result (any next attempt is already open).
result_signed_off = Signal()
# assessment, previous: a further attempt was opened after a "not yet" result.
attempt_reopened = Signal()
# amendment: a signed-off result was amended (amendment.assessment carries the new result).
result_amended = Signal()
# change: an enrolment was withdrawn, given RPL or credit transfer, or reinstated.
enrolment_status_changed = Signal()
# samples, by: moderation samples were assigned to moderators (drawn, picked or reassigned).
samples_assigned = Signal()
# review, by: a moderator submitted the review of a sampled decision.
sample_reviewed = Signal()
