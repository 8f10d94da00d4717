"""Login throttling: per username and address, and per address across usernames.

django-axes compares one failure count with one limit. The portal has two
limits (settings.AXES_LOCKOUT_PARAMETERS lists the two sets, in this order):

- ``AXES_FAILURE_LIMIT`` failures for one username from one address lock that
  username there (someone guessing one person's password);
- ``AXES_IP_FAILURE_LIMIT`` failures from one address, whatever the usernames,
  lock the address (password spraying). It is higher because a classroom or
  a campus shares one address.
"""

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


def client_address(request):
    """The address of the person at the keyboard, as axes should count it.

    Each trusted proxy appends the address it saw to X-Forwarded-For, so with
    N proxies the client is the Nth entry from the right; entries further left
    come from the client and may be forged. Without trusted proxies (or when
    the header is shorter or malformed) it is the socket's peer.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [
            address.strip()
            for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if address.strip()
        ]
        if len(forwarded) >= count:
            try:
                return str(ipaddress.ip_address(forwarded[-count]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR")


def _sum_failures(attempts):
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class LoginThrottleHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None):
        """The username+address count, raised to the lockout limit when the address is over its own.

        Axes locks when this reaches AXES_FAILURE_LIMIT, both when checking a
        login and after recording a failure, so this one place enforces both limits.
        """
        per_login, per_address = self.get_user_attempts(request, credentials)
        failures = _sum_failures(per_login)
        if _sum_failures(per_address) >= settings.AXES_IP_FAILURE_LIMIT:
            return max(failures, settings.AXES_FAILURE_LIMIT)
        return failures

    def reset_user_attempts(self, request, credentials=None):
        """A successful login clears that username's failures from the address, not the address's.

        Otherwise a sprayer could log in to their own account now and then to
        wipe the address's count.
        """
        per_login = self.filter_user_attempts(request, credentials)[0]
        count, _ = per_login.delete()
        return count
