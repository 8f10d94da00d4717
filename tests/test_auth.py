import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_passwords_are_hashed_with_argon2(make_user, settings):
    from assessment_portal import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert make_user("someone").password.startswith("argon2")


def test_login_and_logout_are_logged_with_actor(client, make_user, caplog):
    user = make_user("logger")
    with caplog.at_level("INFO", logger="assessment_portal.security"):
        login(client, "logger", PASSWORD)
        client.post(reverse("logout"))
        login(client, "logger", "wrong")
    assert f"login: user={user.pk}" in caplog.text
    assert f"logout: user={user.pk}" in caplog.text
    assert "login failed: username='logger'" in caplog.text


@pytest.mark.parametrize("username", ["exists", "nobody-by-this-name"])
def test_five_failures_lock_out_with_the_same_message(client, make_user, username):
    make_user("exists")
    for _ in range(5):
        response = login(client, username, "wrong password")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    # The right password does not help during the cool-off.
    locked = login(client, username, PASSWORD)
    assert locked.status_code == 429


def test_lockout_is_per_username_and_address(client, make_user):
    make_user("victim")
    make_user("bystander")
    for _ in range(5):
        login(client, "victim", "wrong password")
    assert login(client, "bystander", PASSWORD).status_code == 302


def test_password_reset_sends_a_working_link(client, make_user):
    make_user("forgetful", email="forgetful@example.org")
    client.post(reverse("password_reset"), {"email": "forgetful@example.org"})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    path = link[link.index("/accounts/reset/") :].strip()
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"]
    new_password = "a new long passphrase"
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert login(client, "forgetful", new_password).status_code == 302


def test_password_reset_page_says_the_same_for_unknown_addresses(client):
    response = client.post(reverse("password_reset"), {"email": "unknown@example.org"}, follow=True)
    assert "If an account uses the address you entered" in response.content.decode()
    assert mail.outbox == []


def test_password_change(client, make_user):
    make_user("changer")
    client.post(reverse("login"), {"username": "changer", "password": PASSWORD})
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another long passphrase",
            "new_password2": "another long passphrase",
        },
        follow=True,
    )
    assert "Your password has been changed." in response.content.decode()


def test_password_reset_reaches_accounts_that_never_set_a_password(client, django_user_model):
    user = django_user_model.objects.create_user(username="new", email="new@example.org")
    assert not user.has_usable_password()
    client.post(reverse("password_reset"), {"email": "NEW@example.org"})
    assert len(mail.outbox) == 1
