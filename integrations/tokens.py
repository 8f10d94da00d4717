"""API tokens: created and revoked by administrators, stored only as SHA-256 hashes.

A token is ``ap_`` followed by 43 URL-safe characters (256 random bits), so a
plain SHA-256 is enough: there is nothing to guess that a slow hash would
protect. The first 12 characters are kept in clear to tell tokens apart.
"""

import hashlib
import logging
import math
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from .models import ApiToken

audit_log = logging.getLogger("assessment_portal.audit")

TOKEN_PREFIX = "ap_"  # noqa: S105  (a marker, not a secret)
VISIBLE_CHARS = 12
RATE_WINDOW_SECONDS = 60


def hash_token(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(*, name, scope, expires_at, by, acts_for=None):
    """A new token; returns (ApiToken, the token itself — shown once, never stored).

    The token sees what ``acts_for`` (default: its creator) sees on the pages.
    """
    acts_for = acts_for or by
    if not by.is_administrator:
        raise PermissionDenied
    if scope not in ApiToken.Scope.values:
        raise ValidationError("Choose the token's scope.")
    if not acts_for.is_active or not (acts_for.is_administrator or acts_for.is_assessor):
        raise ValidationError("A token acts for an active administrator or assessor.")
    if scope == ApiToken.Scope.WRITE_ENROLMENTS and not acts_for.is_administrator:
        raise ValidationError(
            "Only a token acting for an administrator may write enrolments, "
            "as only administrators enrol candidates."
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name.strip(),
        prefix=raw[:VISIBLE_CHARS],
        token_hash=hash_token(raw),
        scope=scope,
        expires_at=expires_at,
        acts_for=acts_for,
        created_by=by,
    )
    audit_log.info(
        "api token created: token=%s prefix=%s scope=%s acts_for=%s by=%s",
        token.pk,
        token.prefix,
        scope,
        acts_for.pk,
        by.pk,
    )
    return token, raw


def revoke_token(*, token, by):
    if not by.is_administrator:
        raise PermissionDenied
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    if not updated:
        raise ValidationError(f"{token} is already revoked.")
    audit_log.info("api token revoked: token=%s prefix=%s by=%s", token.pk, token.prefix, by.pk)


def find_token(raw):
    """The token whatever its state (so calls with a revoked one are logged), or None."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    return ApiToken.objects.select_related("acts_for").filter(token_hash=hash_token(raw)).first()


def rate_limit_wait(token):
    """Seconds to wait if the token has used up its calls this minute, else 0.

    A fixed one-minute window counted in the shared cache, so every server
    instance counts against the same limit when the cache is shared (Redis).
    """
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"integrations:api-rate:{token.pk}:{window}"
    cache.add(key, 0, RATE_WINDOW_SECONDS * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, RATE_WINDOW_SECONDS * 2)
        count = 1
    if count <= limit:
        return 0
    return max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - now))
