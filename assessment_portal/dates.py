"""Dates people type into forms.

A date field takes anything from year 1 to 9999, but arithmetic on the ends of that
range overflows (a moderation period ending 9999-12-31 has no "next day"), and no
record of this portal is dated outside a few centuries. Such dates are form errors.
"""

from datetime import date

from django.core.exceptions import ValidationError

EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


def validate_plausible_date(value):
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValidationError(
            f"Enter a date between {EARLIEST:%d %b %Y} and {LATEST:%d %b %Y}.",
            code="date_out_of_range",
        )
