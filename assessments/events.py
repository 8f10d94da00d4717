"""Domain events sent by the assessment and moderation services.

Each is sent inside the service's transaction, once the write is done, so a
receiver's own writes commit or roll back with it. Apps that react to them
(notifications, integrations) depend on assessments, never the other way.
"""

from django.dispatch import Signal

# assessment, by: the candidate submitted an attempt for judgement.
attempt_submitted = Signal()
# assessment, sign_off, by: the assessor signed off a result.
attempt_signed_off = Signal()
# assessment, previous: a further attempt was opened after a "not yet" result.
attempt_reopened = Signal()
# assessment, amendment, by: a signed-off result was amended.
result_amended = Signal()
# samples, by: moderation samples were assigned to moderators (drawn, picked or reassigned).
samples_assigned = Signal()
# review, by: a moderator submitted the review of a sampled decision.
sample_reviewed = Signal()
