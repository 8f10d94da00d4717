from pathlib import Path

import pytest

from standards.services import import_unit_file

# US57 criterion 1.2's range ("includes but is not limited to": every item is required).
US57_1_2_RANGE = [
    "customer",
    "front-line customer service staff",
    "back-up staff",
    "suppliers",
    "manufacturers",
    "distributors",
]

UNIT_FILES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "units").glob("*.json"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database starts with the three published units loaded."""
    with django_db_blocker.unblock():
        for path in UNIT_FILES:
            import_unit_file(path)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 is slow on purpose; tests that are not about hashing use a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded evidence goes to a fresh folder per test, never into the project's media/."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "base_url": None},
        },
    }
    return root


@pytest.fixture
def make_user(django_user_model):
    def make(username, role="candidate", **extra):
        return django_user_model.objects.create_user(
            username=username, password="correct horse battery", role=role, **extra
        )

    return make


@pytest.fixture
def candidate_client(client, make_user):
    client.force_login(make_user("cand", "candidate"))
    return client


def pytest_collection_modifyitems(items):
    """Browser tests run last: their live server flushes the database afterwards.

    So do other transactional tests (``django_db(transaction=True)``), for the same reason.
    """

    def flushes(item):
        db = item.get_closest_marker("django_db")
        return item.get_closest_marker("e2e") is not None or bool(
            db and db.kwargs.get("transaction")
        )

    items.sort(key=flushes)
