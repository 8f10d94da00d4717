"""Token authentication, scopes, rate limiting and the call log for /api/v1/."""

import functools

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from ninja.security import HttpBearer

from .. import tokens
from ..models import ApiCall, ApiToken


class RateLimited(Exception):
    def __init__(self, retry_after):
        self.retry_after = retry_after


class TokenAuth(HttpBearer):
    """``Authorization: Bearer ap_…``; the token acts for its ``acts_for`` person."""

    def authenticate(self, request, token):
        found = tokens.find_token(token)
        if found is None:
            return None
        request.api_token = found  # logged whatever happens next
        if not found.is_usable:
            return None
        wait = tokens.rate_limit_wait(found)
        if wait:
            raise RateLimited(wait)
        return found


def acting_user(request):
    """Whose access rules apply: the person the token acts for (same visible_to as the pages)."""
    return request.auth.acts_for


def require_write(request):
    if request.auth.scope != ApiToken.Scope.WRITE_ENROLMENTS:
        raise PermissionDenied("This token may only read; writing enrolments needs a write token.")


def logged(view):
    """Record every call made with a known token: token, method, path, status, UTC time."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        token = getattr(request, "api_token", None)
        if token is not None:
            now = timezone.now()
            ApiCall.objects.create(
                token=token,
                method=request.method,
                path=request.path[:500],
                status=response.status_code,
                at=now,
            )
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return response

    return wrapper
