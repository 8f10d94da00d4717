"""Per-object access checks, one line in every view.

Querysets carry the scoping (``Model.objects.visible_to(user)``); these
helpers turn "not yours" into the same 404 as "does not exist", so a user
cannot learn what exists, and log the denial with the actor.
"""

import functools
import logging

from django.http import Http404
from django.shortcuts import get_object_or_404

security_log = logging.getLogger("assessment_portal.security")


def get_visible_or_404(queryset, user, **lookup):
    """The object if ``user`` may see it, else 404 (logged when it exists)."""
    visible = queryset.visible_to(user)
    try:
        return get_object_or_404(visible, **lookup)
    except Http404:
        if queryset.filter(**lookup).exists():
            security_log.warning(
                "access denied: user=%s model=%s lookup=%s",
                user.pk,
                queryset.model._meta.label,
                lookup,
            )
        raise


def administrator_required(view):
    """Administrator pages are invisible (404) to everyone else."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated or not request.user.is_administrator:
            security_log.warning("access denied: user=%s path=%s", request.user.pk, request.path)
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
