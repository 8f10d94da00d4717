"""Links to an object's page, as lists print fifty of them.

``reverse()`` matches the URL pattern against its arguments each time (~16 µs); list pages
of 50 rows spent ~1 ms on their links at 10,000 candidates (issue 13). A view whose one
argument is the object's primary key gets its URL here from that pattern reversed once,
split where the key goes.
"""

import functools

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse

# A key no object has: where it appears in the reversed URL is where each key goes.
_MARK = 987_654_321_987_654_321


def object_url(viewname, pk):
    """``reverse(viewname, args=[pk])``."""
    before, after = _around_pk(viewname, get_script_prefix())
    return f"{before}{int(pk)}{after}"


@functools.cache
def _around_pk(viewname, script_prefix):
    before, after = reverse(viewname, args=[_MARK]).split(str(_MARK))
    return before, after


@receiver(setting_changed)
def _forget_patterns(setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _around_pk.cache_clear()
