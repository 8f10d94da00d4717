"""Security log of sign-ins: who, from where, when (UTC, by the log formatter)."""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import session_idle
from .login_throttle import client_address

security_log = logging.getLogger("assessment_portal.security")


def _address(request):
    return (client_address(request) or "-") if request is not None else "-"


@receiver(user_logged_in)
def log_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_idle.stamp(request.session)  # the login saves the session anyway
    security_log.info("login: user=%s ip=%s", user.pk, _address(request))


@receiver(user_logged_out)
def log_logout(sender, request, user, **kwargs):
    security_log.info("logout: user=%s ip=%s", getattr(user, "pk", None), _address(request))


@receiver(user_login_failed)
def log_login_failed(sender, credentials, request=None, **kwargs):
    security_log.warning(
        "login failed: username=%r ip=%s", credentials.get("username"), _address(request)
    )
