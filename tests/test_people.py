import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from assessment_portal import people
from assessment_portal.identifiers import (
    USI_ALPHABET,
    usi_check_character,
    validate_nsn,
    validate_usi,
)
from assessments.models import Cohort
from tests.tasks_support import DATABASE, IMMEDIATE, use_task_backend

pytestmark = pytest.mark.django_db

User = get_user_model()

HEADER = "first_name,last_name,email,nsn,usi"


def usi(n):
    """A valid USI, different for every ``n``: nine characters of n in base 32, then the check."""
    body = ""
    for _ in range(9):
        n, digit = divmod(n, len(USI_ALPHABET))
        body += USI_ALPHABET[digit]
    return body + usi_check_character(body)


def usi_with_wrong_check(n):
    right = usi(n)
    return right[:9] + next(char for char in USI_ALPHABET if char != right[9])


def nsn(n):
    return str(100_000_000 + n)


def csv_file(*lines, encoding="utf-8", name="candidates.csv"):
    return SimpleUploadedFile(
        name, ("\r\n".join(lines) + "\r\n").encode(encoding), content_type="text/csv"
    )


def good_lines(count):
    return [
        f"Given{i},Family{i},Person{i}@Example.ac.nz,{nsn(i) if i % 2 else ''},{usi(i)}"
        for i in range(1, count + 1)
    ]


@pytest.fixture(autouse=True)
def tasks_run_in_the_request(settings):
    """E-mails go through the task queue; here the queue runs each task at once."""
    use_task_backend(settings, IMMEDIATE)


@pytest.fixture
def administrator(make_user):
    return make_user(
        "admin", "administrator", email="admin@example.ac.nz", first_name="Ada", last_name="Min"
    )


@pytest.fixture
def administrator_client(client, administrator):
    client.force_login(administrator)
    return client


def link_in(message):
    return re.search(r"https?://\S+", message.body).group(0)


def new_user_data(**changes):
    data = {
        "username": "hemi",
        "first_name": "Hemi",
        "last_name": "Walker",
        "email": "hemi.walker@example.ac.nz",
        "role": "candidate",
        "national_student_number": "123456789",
        "unique_student_identifier": "",
    }
    data.update(changes)
    return data


# Identifiers -------------------------------------------------------------------


def test_valid_usi_and_nsn_pass():
    validate_usi(usi(12345))
    validate_nsn("123456789")
    validate_nsn("1234567890")


@pytest.mark.parametrize(
    "value",
    [
        usi(7)[:9],  # too short
        usi(7) + "2",  # too long
        "O" + usi(7)[1:],  # O is not in the alphabet (looks like 0)
        "I" + usi(7)[1:],  # nor I (looks like 1)
        "0" + usi(7)[1:],
        "1" + usi(7)[1:],
        usi(7).lower(),
    ],
)
def test_usi_format_errors(value):
    with pytest.raises(ValidationError) as raised:
        validate_usi(value)
    assert raised.value.code == "usi_format"


def test_usi_typo_is_caught_by_check_character():
    good = usi(4242)
    # Change one character of the body to its neighbour in the alphabet.
    typo = USI_ALPHABET[(USI_ALPHABET.index(good[3]) + 1) % len(USI_ALPHABET)]
    with pytest.raises(ValidationError) as raised:
        validate_usi(good[:3] + typo + good[4:])
    assert raised.value.code == "usi_check"


@pytest.mark.parametrize("value", ["12345678", "12345678901", "12345678a", "123 45678", ""])
def test_nsn_format_errors(value):
    with pytest.raises(ValidationError) as raised:
        validate_nsn(value)
    assert raised.value.code == "nsn_format"


# Access --------------------------------------------------------------------------


PEOPLE_URLS = [
    ("get", "user_list", False),
    ("get", "user_create", False),
    ("post", "user_create", False),
    ("get", "candidate_import", False),
    ("post", "candidate_import", False),
    ("get", "user_edit", True),
    ("post", "user_edit", True),
    ("post", "user_send_password_link", True),
]


@pytest.mark.parametrize(("method", "name", "takes_pk"), PEOPLE_URLS)
@pytest.mark.parametrize("role", ["candidate", "assessor"])
def test_people_pages_are_not_found_for_other_roles(
    client, make_user, administrator, role, method, name, takes_pk
):
    # Moderators are still not administrators.
    client.force_login(make_user("someone", role, is_moderator=role == "assessor"))
    url = reverse(name, args=[administrator.pk] if takes_pk else [])
    response = getattr(client, method)(url, new_user_data())
    assert response.status_code == 404
    assert User.objects.count() == 2
    assert mail.outbox == []


@pytest.mark.parametrize(("method", "name", "takes_pk"), PEOPLE_URLS)
def test_people_pages_send_anonymous_visitors_to_login(
    client, administrator, method, name, takes_pk
):
    url = reverse(name, args=[administrator.pk] if takes_pk else [])
    response = getattr(client, method)(url, new_user_data())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert User.objects.count() == 1


# User list ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [5, 30])
def test_user_list_query_count_does_not_grow(
    administrator_client, make_user, django_assert_max_num_queries, count
):
    for i in range(count):
        make_user(f"user{i}", ["candidate", "assessor"][i % 2], national_student_number=nsn(i))
    with django_assert_max_num_queries(5):
        response = administrator_client.get(reverse("user_list"))
    assert response.status_code == 200
    assert len(response.context["page"]) == count + 1


def test_user_list_filters_by_role_and_searches(administrator_client, make_user):
    make_user("aroha", "candidate", first_name="Aroha", last_name="Ngata", email="a@x.nz")
    make_user("jack", "candidate", first_name="Jack", last_name="Nguyen", email="j@x.au")
    make_user("pat", "assessor", first_name="Pat", last_name="Ngata", email="p@x.nz")
    url = reverse("user_list")

    def names(**query):
        response = administrator_client.get(url, query)
        assert response.status_code == 200
        return {person.username for person in response.context["page"]}

    assert names(role="candidate") == {"aroha", "jack"}
    assert names(q="ngata") == {"aroha", "pat"}
    assert names(q="aroha ngata") == {"aroha"}
    assert names(q="ngata", role="assessor") == {"pat"}
    assert names(q="x.au") == {"jack"}
    assert names(role="nonsense") == {"admin", "aroha", "jack", "pat"}


def test_user_list_paginates_by_50(administrator_client, make_user):
    for i in range(55):
        make_user(f"user{i:02}")
    response = administrator_client.get(reverse("user_list"), {"role": "candidate", "page": 2})
    assert len(response.context["page"]) == 5
    assert b"role=candidate&amp;page=1" in response.content


# Creating and editing users ---------------------------------------------------------------


def test_create_user_sends_a_working_set_password_link(
    administrator_client, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = administrator_client.post(reverse("user_create"), new_user_data())
    assert response.status_code == 302

    user = User.objects.get(username="hemi")
    assert user.role == "candidate"
    assert user.national_student_number == "123456789"
    assert not user.has_usable_password()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["hemi.walker@example.ac.nz"]
    assert "Your username: hemi" in message.body

    # The link lets the new person choose a password, then sign in with it.
    client.logout()
    page = client.get(link_in(message), follow=True)
    assert page.status_code == 200
    assert page.context["validlink"]
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "kereru flies at dusk 42", "new_password2": "kereru flies at dusk 42"},
    )
    user.refresh_from_db()
    assert user.check_password("kereru flies at dusk 42")


def test_create_user_page_renders_labelled_fields(administrator_client):
    response = administrator_client.get(reverse("user_create"))
    content = response.content.decode()
    assert response.status_code == 200
    assert 'name="password' not in content
    for name in new_user_data():
        assert f'for="id_{name}"' in content


def test_candidate_cannot_be_a_moderator(administrator_client):
    response = administrator_client.post(reverse("user_create"), new_user_data(is_moderator="on"))
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "is_moderator": [
            "Candidates cannot be moderators. Untick this, or choose the assessor or "
            "administrator role."
        ]
    }
    assert b'role="alert"' in response.content
    assert not User.objects.filter(username="hemi").exists()
    assert mail.outbox == []


def test_assessor_can_be_a_moderator(administrator_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        administrator_client.post(
            reverse("user_create"),
            new_user_data(role="assessor", is_moderator="on", national_student_number=""),
        )
    assert User.objects.get(username="hemi").is_moderator
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unique_student_identifier", "O" + usi(9)[1:], "A USI is 10 characters"),
        (
            "unique_student_identifier",
            usi_with_wrong_check(9),
            "does not match its check character",
        ),
        ("unique_student_identifier", usi(9)[:8], "A USI is 10 characters"),
        ("national_student_number", "12345A789", "An NSN (National Student Number) is 9 or 10"),
        ("national_student_number", "1234", "An NSN (National Student Number) is 9 or 10"),
    ],
)
def test_invalid_identifiers_are_rejected(administrator_client, field, value, message):
    response = administrator_client.post(reverse("user_create"), new_user_data(**{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not User.objects.filter(username="hemi").exists()


def test_usi_is_stripped_and_upper_cased(administrator_client):
    administrator_client.post(
        reverse("user_create"), new_user_data(unique_student_identifier=f"  {usi(3).lower()} ")
    )
    assert User.objects.get(username="hemi").unique_student_identifier == usi(3)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "TAKEN"),
        ("email", "Taken@Example.ac.nz"),
        ("national_student_number", "987654321"),
        ("unique_student_identifier", usi(77).lower()),
    ],
)
def test_create_user_rejects_what_another_user_has(administrator_client, make_user, field, value):
    make_user(
        "taken",
        email="taken@example.ac.nz",
        national_student_number="987654321",
        unique_student_identifier=usi(77),
    )
    response = administrator_client.post(reverse("user_create"), new_user_data(**{field: value}))
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert "already has this" in errors[field][0]


def test_email_is_required(administrator_client):
    response = administrator_client.post(reverse("user_create"), new_user_data(email=""))
    assert list(response.context["form"].errors) == ["email"]


def test_edit_user_deactivates_but_keeps_the_account(administrator_client, make_user):
    person = make_user("pat", "assessor", email="pat@example.ac.nz", first_name="Pat")
    response = administrator_client.get(reverse("user_edit", args=[person.pk]))
    assert "username" not in response.context["form"].fields

    data = new_user_data(
        username="renamed", role="assessor", is_moderator="on", national_student_number=""
    )
    response = administrator_client.post(reverse("user_edit", args=[person.pk]), data)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.username == "pat"
    assert person.is_moderator
    assert person.first_name == "Hemi"
    assert not person.is_active  # an unticked checkbox is not posted


def test_edit_user_allows_keeping_own_email_and_identifiers(administrator_client, make_user):
    person = make_user("pat", email="pat@example.ac.nz", unique_student_identifier=usi(5))
    data = new_user_data(
        email="PAT@example.ac.nz",
        national_student_number="",
        unique_student_identifier=usi(5),
        is_active="on",
    )
    response = administrator_client.post(reverse("user_edit", args=[person.pk]), data)
    assert response.status_code == 302


def test_administrator_cannot_lock_themselves_out(administrator_client, administrator):
    data = new_user_data(email=administrator.email, role="assessor", national_student_number="")
    response = administrator_client.post(reverse("user_edit", args=[administrator.pk]), data)
    assert set(response.context["form"].errors) == {"is_active", "role"}
    administrator.refresh_from_db()
    assert administrator.is_active
    assert administrator.is_administrator


def test_edit_unknown_user_is_404(administrator_client):
    assert administrator_client.get(reverse("user_edit", args=[9999])).status_code == 404


def test_send_password_link_again(administrator_client, make_user):
    person = make_user("pat", email="pat@example.ac.nz")
    response = administrator_client.post(reverse("user_send_password_link", args=[person.pk]))
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["pat@example.ac.nz"]]
    assert "/accounts/reset/" in link_in(mail.outbox[0])

    person.is_active = False
    person.save()
    administrator_client.post(reverse("user_send_password_link", args=[person.pk]))
    assert len(mail.outbox) == 1


# Candidate CSV import ------------------------------------------------------------------


def post_csv(client, upload, **extra):
    return client.post(reverse("candidate_import"), {"file": upload, **extra})


def test_import_creates_candidates_and_emails_each(
    administrator_client, django_capture_on_commit_callbacks
):
    cohort = Cohort.objects.create(name="2026 intake")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_csv(
            administrator_client, csv_file(HEADER, *good_lines(4)), cohort=cohort.pk
        )
    assert response.status_code == 302

    imported = User.objects.filter(role="candidate").order_by("username")
    assert [user.username for user in imported] == [f"person{i}@example.ac.nz" for i in range(1, 5)]
    first = imported[0]
    assert (first.first_name, first.last_name, first.email) == (
        "Given1",
        "Family1",
        "Person1@Example.ac.nz",
    )
    assert first.national_student_number == nsn(1)
    assert first.unique_student_identifier == usi(1)
    assert imported[1].national_student_number == ""
    assert not any(user.has_usable_password() for user in imported)
    assert set(cohort.candidates.all()) == set(imported)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(u.email for u in imported)
    assert all("/accounts/reset/" in link_in(message) for message in mail.outbox)


def test_import_page_documents_the_header(administrator_client):
    response = administrator_client.get(reverse("candidate_import"))
    assert response.status_code == 200
    assert HEADER.encode() in response.content
    assert b'for="id_file"' in response.content


BAD_ROWS = [
    # (row 3 of the file, expected column, part of the message)
    (f"Ana,Bell,ana@example.ac.nz,,{usi(50)[:9]}O", "usi", "A USI is 10 characters"),
    (f"Ana,Bell,ana@example.ac.nz,,{usi_with_wrong_check(50)}", "usi", "check character"),
    ("Ana,Bell,ana@example.ac.nz,12345678,", "nsn", "An NSN (National Student Number)"),
    (f"Ana,Bell,PERSON1@example.ac.nz,,{usi(50)}", "email", "Same email as row 2."),
    (f"Ana,Bell,ana@example.ac.nz,{nsn(1)},", "nsn", "Same NSN as row 2."),
    (f"Ana,Bell,ana@example.ac.nz,,{usi(1).lower()}", "usi", "Same USI as row 2."),
    (f"Ana,Bell,Existing@Example.ac.nz,,{usi(50)}", "email", "already exists"),
    (f"Ana,Bell,ana@example.ac.nz,,{usi(99)}", "usi", "A user with this USI already exists."),
    (f",Bell,ana@example.ac.nz,,{usi(50)}", "first_name", "First name is required."),
    (f"Ana,,ana@example.ac.nz,,{usi(50)}", "last_name", "Last name is required."),
    (f"Ana,Bell,,,{usi(50)}", "email", "Email is required."),
    (f"Ana,Bell,not-an-email,,{usi(50)}", "email", "is not a valid email address"),
    ("Ana,Bell,ana@example.ac.nz,,", "nsn/usi", "Give an NSN or a USI"),
]


@pytest.mark.parametrize(("line", "column", "message"), BAD_ROWS)
def test_one_bad_row_imports_nothing_and_is_reported(
    administrator_client, make_user, django_capture_on_commit_callbacks, line, column, message
):
    make_user("existing", email="existing@example.ac.nz", unique_student_identifier=usi(99))
    lines = [HEADER, good_lines(1)[0], line, *good_lines(5)[1:]]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_csv(administrator_client, csv_file(*lines))

    assert response.status_code == 200
    assert User.objects.count() == 2  # the administrator and "existing"
    assert mail.outbox == []
    errors = response.context["errors"]
    assert [(error.row, error.column) for error in errors] == [(3, column)]
    assert message in errors[0].message
    content = response.content.decode()
    assert 'role="alert"' in content
    assert "Nothing was imported" in content
    assert f"<tr><td>3</td><td><code>{column}</code></td>" in content
    assert '<th scope="col">Row</th>' in content


def test_every_problem_is_reported_in_row_order():
    upload = csv_file(
        HEADER,
        "Ana,,bad,12,",
        "",  # a blank line still counts as a spreadsheet row
        f"Ben,Cole,ben@example.ac.nz,,{usi(1)}",
        f"Cy,Dee,BEN@example.ac.nz,,{usi(1)}",
    )
    rows, errors = people.parse_candidate_csv(upload)
    assert [row.row for row in rows] == [2, 4, 5]
    assert [(error.row, error.column) for error in errors] == [
        (2, "last_name"),
        (2, "email"),
        (2, "nsn"),
        (5, "email"),
        (5, "usi"),
    ]


def test_import_accepts_bom_and_header_variants(
    administrator_client, django_capture_on_commit_callbacks
):
    upload = csv_file(
        "Given Name,FAMILY NAME,Email Address,USI,Notes",
        f"Mere,Tane,mere@example.ac.nz,{usi(8)},first year",
        encoding="utf-8-sig",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_csv(administrator_client, upload)
    assert response.status_code == 302
    user = User.objects.get(username="mere@example.ac.nz")
    assert (user.first_name, user.last_name, user.unique_student_identifier) == (
        "Mere",
        "Tane",
        usi(8),
    )
    assert len(mail.outbox) == 1


def test_import_keeps_non_ascii_names(administrator_client):
    upload = csv_file(HEADER, f"Mātai,Pōtae,matai@example.ac.nz,{nsn(1)},")
    assert post_csv(administrator_client, upload).status_code == 302
    assert User.objects.get(national_student_number=nsn(1)).first_name == "Mātai"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            csv_file("first_name,surname,usi", f"Ana,Bell,{usi(1)}"),
            "The header row has no column for: email.",
        ),
        (
            csv_file("name,email", "Ana,ana@example.ac.nz"),
            "no column for: first_name, last_name, nsn or usi.",
        ),
        (
            csv_file(HEADER, "Renée,Bell,renee@example.ac.nz,123456789,", encoding="latin-1"),
            "The file is not UTF-8 text.",
        ),
        (csv_file(HEADER), "The file has a header row but no candidates."),
        (SimpleUploadedFile("empty.csv", b"\n", content_type="text/csv"), "no column for"),
        (
            csv_file("email,email,first_name,last_name,nsn"),
            'The header row has more than one "email" column.',
        ),
        (
            csv_file(HEADER, f"Ana,Bell,ana@example.ac.nz,,{usi(1)}" + "x" * 2 * 1024 * 1024),
            "the limit is 2 MB",
        ),
        (csv_file(HEADER, *good_lines(people.MAX_ROWS + 1)), "more than 5000 candidates"),
    ],
    ids=[
        "missing-email",
        "missing-several",
        "latin-1",
        "no-rows",
        "blank",
        "duplicate-column",
        "too-big",
        "too-many-rows",
    ],
)
def test_unusable_files_are_rejected_with_a_clear_message(administrator_client, upload, message):
    response = post_csv(administrator_client, upload)
    assert response.status_code == 200
    errors = response.context["form"].errors["file"]
    assert message in errors[0]
    assert User.objects.count() == 1
    assert mail.outbox == []


def test_five_thousand_rows_are_accepted():
    rows, errors = people.parse_candidate_csv(csv_file(HEADER, *good_lines(people.MAX_ROWS)))
    assert (len(rows), errors) == (people.MAX_ROWS, [])


def test_clash_with_an_account_created_meanwhile_imports_nothing(
    administrator_client, make_user, monkeypatch
):
    # Simulate another administrator creating the account between the check and the insert.
    monkeypatch.setattr(people, "_check_existing_users", lambda rows, errors: None)
    make_user("person2@example.ac.nz", national_student_number="999999999")
    response = post_csv(administrator_client, csv_file(HEADER, *good_lines(3)))
    assert response.status_code == 200
    assert "Nothing was imported" in response.content.decode()
    assert "Someone created an account" in response.context["form"].non_field_errors()[0]
    assert User.objects.count() == 2
    assert mail.outbox == []


# E-mails go through the task worker ---------------------------------------------------


def run_worker(monkeypatch):
    # Between tasks the worker closes stale connections, which on PostgreSQL would
    # close this test's connection and its open transaction with it.
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    call_command("run_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0")


def test_import_emails_are_sent_by_the_worker_not_the_request(
    administrator_client, settings, monkeypatch
):
    use_task_backend(settings, DATABASE)
    post_csv(administrator_client, csv_file(HEADER, *good_lines(250)))
    response = administrator_client.get(reverse("user_list"))
    assert "will be emailed a link" in response.content.decode()
    assert User.objects.filter(role="candidate").count() == 250
    assert mail.outbox == []
    # 250 people in batches of 100: three tasks, waiting for the worker.
    queued = DBTaskResult.objects.filter(task_path__endswith="send_set_password_emails")
    assert queued.count() == 3

    run_worker(monkeypatch)

    assert set(queued.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert len(mail.outbox) == 250
    assert {message.to[0] for message in mail.outbox} == {
        f"Person{i}@Example.ac.nz" for i in range(1, 251)
    }
    # The link names the site the administrator used.
    assert all(link_in(m).startswith("http://testserver/accounts/reset/") for m in mail.outbox)


def test_mail_server_failure_keeps_the_accounts_and_fails_the_task(
    administrator_client, settings, monkeypatch
):
    use_task_backend(settings, DATABASE)
    post_csv(administrator_client, csv_file(HEADER, *good_lines(3)))

    def refuse(self, messages):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    run_worker(monkeypatch)

    assert User.objects.filter(role="candidate").count() == 3
    assert DBTaskResult.objects.get().status == "FAILED"
    assert mail.outbox == []


def test_failed_import_queues_no_email(administrator_client, settings):
    use_task_backend(settings, DATABASE)
    lines = good_lines(3)
    lines[2] = lines[2].replace("Person3@Example.ac.nz", "not-an-address")
    post_csv(administrator_client, csv_file(HEADER, *lines))
    assert not User.objects.filter(role="candidate").exists()
    assert not DBTaskResult.objects.exists()
