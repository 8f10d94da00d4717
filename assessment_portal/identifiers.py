"""National student identifiers that results are reported with.

- NZ National Student Number (NSN): issued by the Ministry of Education,
  digits only, 9 or 10 digits long.
- AU Unique Student Identifier (USI): ten characters from the USI alphabet
  (digits 2-9 and letters without I and O); the last one is a check
  character computed with the Luhn mod N algorithm over that alphabet.

Both are ASCII only: regular expressions' digit class, ``isdigit()`` and ``int()`` also take
full-width and other scripts' digits ("１２３…"), which would let the same
number be stored twice under two spellings.
"""

import re

from django.core.exceptions import ValidationError

USI_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
NSN_PATTERN = re.compile(r"[0-9]{9,10}")


def usi_check_character(body):
    """The Luhn mod N check character for the first nine USI characters."""
    n = len(USI_ALPHABET)
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * USI_ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return USI_ALPHABET[(n - total % n) % n]


def validate_usi(value):
    if not value.isascii() or len(value) != 10 or any(char not in USI_ALPHABET for char in value):
        raise ValidationError(
            "A USI is 10 characters: digits 2–9 and capital letters A–Z other than I and O.",
            code="usi_format",
        )
    if usi_check_character(value[:9]) != value[9]:
        raise ValidationError(
            "This USI's last character does not match its check character; check for a typo.",
            code="usi_check",
        )


def validate_nsn(value):
    if not NSN_PATTERN.fullmatch(value):
        raise ValidationError(
            "An NSN (National Student Number) is 9 or 10 digits 0–9, with no letters, spaces "
            "or other characters.",
            code="nsn_format",
        )
