"""Creating people: single accounts and candidates imported from a CSV file.

Accounts are created without a password. Each person is e-mailed a one-time
link to set their own, made with Django's password-reset tokens, so an
administrator never knows or sends anyone's password. The e-mails are composed
and sent by the task worker, not in the request: a 2,000-row import would
otherwise spend most of its time on them.
"""

import csv
import io
import logging
from dataclasses import dataclass
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from . import people_tasks
from .identifiers import validate_nsn, validate_usi

logger = logging.getLogger(__name__)

User = get_user_model()

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000

# Column names are matched after lower-casing and turning spaces and hyphens
# into underscores, so "First Name" and "first-name" both mean first_name. The
# aliases are the words the USI registry and NZ student systems export.
COLUMN_ALIASES = {
    "first_name": "first_name",
    "given_name": "first_name",
    "given_names": "first_name",
    "last_name": "last_name",
    "family_name": "last_name",
    "surname": "last_name",
    "email": "email",
    "email_address": "email",
    "e_mail": "email",
    "nsn": "nsn",
    "usi": "usi",
}
REQUIRED_COLUMNS = ["first_name", "last_name", "email"]
IDENTIFIER_COLUMNS = ["nsn", "usi"]
# Errors within a row are listed in the order the columns are documented.
COLUMN_ORDER = {
    column: index
    for index, column in enumerate(["first_name", "last_name", "email", "nsn/usi", "nsn", "usi"])
}


def matching(queryset, q, via=""):
    """``queryset`` narrowed to people matching every word of ``q``, so "jane smith" finds
    Jane Smith: by name, email, username, NSN or USI. ``via`` is the path to the person
    (e.g. ``"candidate__"``)."""
    for word in q.split():
        queryset = queryset.filter(
            Q(**{f"{via}first_name__icontains": word})
            | Q(**{f"{via}last_name__icontains": word})
            | Q(**{f"{via}email__icontains": word})
            | Q(**{f"{via}username__icontains": word})
            | Q(**{f"{via}national_student_number": word})
            | Q(**{f"{via}unique_student_identifier__iexact": word})
        )
    return queryset


def normalise_nsn(value):
    return value.strip()


def normalise_usi(value):
    # USIs are printed in capitals; people often type them in lower case. Only ASCII is
    # upper-cased: "ſ".upper() is "S", which would slip a non-ASCII USI past the check.
    value = value.strip()
    return value.upper() if value.isascii() else value


class CandidateFileError(Exception):
    """The file as a whole cannot be read (size, encoding, header, length)."""


@dataclass(frozen=True)
class CandidateRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    first_name: str
    last_name: str
    email: str
    nsn: str
    usi: str


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


# Set-password e-mails ------------------------------------------------------


# Users per background task: a large import becomes several tasks, which
# several workers can share and which each retry or fail on their own.
EMAIL_BATCH_SIZE = 100


def set_password_message(user, base_url):
    """The "your account is ready, set your password" e-mail for ``user``."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    body = render_to_string(
        "registration/account_created_email.txt",
        {
            "user": user,
            "link": urljoin(base_url, path),
            "login_link": urljoin(base_url, reverse("login")),
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        },
    )
    return EmailMessage("Your Assessment Portal account", body, to=[user.email])


def send_set_password_emails(user_ids, base_url):
    """Send each active user with an e-mail address a link to set their password, over one
    mail connection. Runs in the task worker; ``base_url`` is the site's address.

    Django's PasswordResetForm is not used because it skips accounts without a
    usable password, which is exactly what a new account is.
    """
    users = User.objects.filter(pk__in=user_ids, is_active=True).exclude(email="")
    messages = [set_password_message(user, base_url) for user in users.order_by("pk")]
    mailers.default.send_messages(messages)
    logger.info("set-password e-mail sent to %d user(s)", len(messages))
    return len(messages)


def queue_set_password_emails(users, request):
    """Queue set-password e-mails for ``users`` on the task worker.

    Called inside the transaction that creates the accounts: with the database
    task queue the accounts and their e-mails commit together or not at all.
    If the mail server fails, the task fails (the worker logs it) and the
    accounts stay; the administrator can send the link again.
    """
    ids = [user.pk for user in users]
    base_url = request.build_absolute_uri("/")
    for start in range(0, len(ids), EMAIL_BATCH_SIZE):
        people_tasks.send_set_password_emails.enqueue(
            ids[start : start + EMAIL_BATCH_SIZE], base_url
        )


# Single accounts -------------------------------------------------------------


@transaction.atomic
def create_user(user, request):
    """Save a new, validated ``user`` without a password and e-mail them a set-password link."""
    user.set_unusable_password()
    user.save()
    queue_set_password_emails([user], request)
    logger.info("user created: user=%s role=%s by=%s", user.pk, user.role, request.user.pk)
    return user


# Candidate CSV import ----------------------------------------------------------


def _read_text(uploaded_file):
    if uploaded_file.size > MAX_FILE_BYTES:
        raise CandidateFileError(
            f"The file is {uploaded_file.size / 1024 / 1024:.1f} MB; the limit is 2 MB. "
            "Split it into smaller files."
        )
    data = uploaded_file.read()
    try:
        # utf-8-sig drops the byte-order mark Excel writes at the start of "CSV UTF-8".
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CandidateFileError(
            "The file is not UTF-8 text. In Excel, use Save As and choose "
            '"CSV UTF-8 (Comma delimited)".'
        ) from error


def _header_columns(header):
    """Map our column names to their positions in the header row."""
    positions = {}
    for index, name in enumerate(header):
        key = name.strip().lower().replace(" ", "_").replace("-", "_")
        column = COLUMN_ALIASES.get(key)
        if column is None:
            continue  # other columns are allowed and ignored
        if column in positions:
            raise CandidateFileError(f'The header row has more than one "{column}" column.')
        positions[column] = index

    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if not any(column in positions for column in IDENTIFIER_COLUMNS):
        missing.append("nsn or usi")
    if missing:
        raise CandidateFileError(
            "The header row has no column for: " + ", ".join(missing) + ". "
            "The first row must name the columns first_name, last_name, email "
            "and at least one of nsn and usi."
        )
    return positions


def _check_row(row, errors):
    def error(column, message):
        errors.append(RowError(row.row, column, message))

    if not row.first_name:
        error("first_name", "First name is required.")
    if not row.last_name:
        error("last_name", "Last name is required.")
    name_limit = User._meta.get_field("first_name").max_length
    for column in ("first_name", "last_name"):
        if len(getattr(row, column)) > name_limit:
            error(column, f"Longer than {name_limit} characters.")

    if not row.email:
        error("email", "Email is required.")
    else:
        try:
            validate_email(row.email)
        except ValidationError:
            error("email", f'"{row.email}" is not a valid email address.')
        else:
            # The email becomes the username, which has a shorter limit.
            username_limit = User._meta.get_field("username").max_length
            if len(row.email) > username_limit:
                error("email", f"Longer than {username_limit} characters.")

    if not row.nsn and not row.usi:
        error("nsn/usi", "Give an NSN or a USI (or both).")
    for column, value, validator in (
        ("nsn", row.nsn, validate_nsn),
        ("usi", row.usi, validate_usi),
    ):
        if value:
            try:
                validator(value)
            except ValidationError as invalid:
                error(column, f'"{value}": {invalid.messages[0]}')


def _check_duplicates_in_file(rows, errors):
    for column, label in (("email", "email"), ("nsn", "NSN"), ("usi", "USI")):
        first_seen = {}
        for row in rows:
            value = getattr(row, column).lower()
            if not value:
                continue
            if value in first_seen:
                errors.append(
                    RowError(row.row, column, f"Same {label} as row {first_seen[value]}.")
                )
            else:
                first_seen[value] = row.row


def _check_existing_users(rows, errors):
    """One query per identifier, whatever the number of rows."""
    emails = {row.email.lower() for row in rows if row.email}
    nsns = {row.nsn for row in rows if row.nsn}
    usis = {row.usi for row in rows if row.usi}

    taken_emails = set(
        User.objects.annotate(value=Lower("email"))
        .filter(value__in=emails)
        .values_list("value", flat=True)
    ) | set(
        # Imported usernames are the email address, so an existing username counts too.
        User.objects.annotate(value=Lower("username"))
        .filter(value__in=emails)
        .values_list("value", flat=True)
    )
    taken_nsns = set(
        User.objects.filter(national_student_number__in=nsns).values_list(
            "national_student_number", flat=True
        )
    )
    taken_usis = set(
        User.objects.filter(unique_student_identifier__in=usis).values_list(
            "unique_student_identifier", flat=True
        )
    )
    for row in rows:
        if row.email and row.email.lower() in taken_emails:
            errors.append(RowError(row.row, "email", "A user with this email already exists."))
        if row.nsn in taken_nsns:
            errors.append(RowError(row.row, "nsn", "A user with this NSN already exists."))
        if row.usi in taken_usis:
            errors.append(RowError(row.row, "usi", "A user with this USI already exists."))


def parse_candidate_csv(uploaded_file):
    """Read and check a candidate CSV file.

    Returns ``(rows, errors)``: the candidates and a list of ``RowError``,
    sorted by row and column. Raises ``CandidateFileError`` when the file as a
    whole is unusable. Callers import only when ``errors`` is empty, so one bad
    row stops the whole file.
    """
    text = _read_text(uploaded_file)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows, errors = _read_rows(reader)
    except csv.Error as error:
        raise CandidateFileError(
            f"Line {reader.line_num} of the file cannot be read as CSV: {error}."
        ) from error
    _check_duplicates_in_file(rows, errors)
    _check_existing_users(rows, errors)
    errors.sort(key=lambda error: (error.row, COLUMN_ORDER[error.column]))
    return rows, errors


def _read_rows(reader):
    # Numbered by record, not by line: a quoted cell may span lines, and a
    # spreadsheet shows it as one row.
    records = enumerate(reader, start=1)
    try:
        _, header = next(records)
    except StopIteration:
        raise CandidateFileError("The file is empty.") from None
    positions = _header_columns(header)

    def cell(record, column):
        index = positions.get(column)
        return record[index].strip() if index is not None and index < len(record) else ""

    rows, errors = [], []
    for number, record in records:
        if not any(value.strip() for value in record):
            continue  # blank lines, often left at the end by spreadsheets
        if len(rows) == MAX_ROWS:
            raise CandidateFileError(
                f"The file has more than {MAX_ROWS} candidates. Split it into smaller files."
            )
        row = CandidateRow(
            row=number,
            first_name=cell(record, "first_name"),
            last_name=cell(record, "last_name"),
            email=cell(record, "email"),
            nsn=normalise_nsn(cell(record, "nsn")),
            usi=normalise_usi(cell(record, "usi")),
        )
        _check_row(row, errors)
        rows.append(row)
    if not rows:
        raise CandidateFileError("The file has a header row but no candidates.")
    return rows, errors


@transaction.atomic
def import_candidates(rows, request, cohort=None):
    """Create a candidate for every checked row, all or none, and e-mail each a set-password link.

    ``rows`` must come from ``parse_candidate_csv`` without errors. A clash with
    an account created meanwhile raises ``IntegrityError`` and rolls back.
    """
    users = []
    for row in rows:
        user = User(
            username=row.email.lower(),
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
            national_student_number=row.nsn,
            unique_student_identifier=row.usi,
            role=User.Role.CANDIDATE,
        )
        user.set_unusable_password()
        users.append(user)
    users = User.objects.bulk_create(users)
    if cohort is not None:
        cohort.candidates.add(*users)
    queue_set_password_emails(users, request)
    logger.info(
        "candidates imported: count=%d cohort=%s by=%s",
        len(users),
        cohort.pk if cohort else None,
        request.user.pk,
    )
    return users
