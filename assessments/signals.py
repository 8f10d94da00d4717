"""Signals the assessment services send when a result is decided or corrected.

Other apps (integrations: the results feed and webhooks) listen to these, so
assessments never imports them. Each is sent inside the service's transaction:
a receiver that writes rows commits or rolls back with the decision itself.
"""

from django.dispatch import Signal

# assessment=<Assessment>, sign_off=<SignOff>
result_signed_off = Signal()
# amendment=<Amendment>
result_amended = Signal()
# change=<EnrolmentStatusChange>
enrolment_status_changed = Signal()
