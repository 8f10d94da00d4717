"""Storage faults leave nothing behind (issue 11, finding 7).

The failing storage below writes part of the file, then raises OSError, as a full
disk or a dropped object-store connection would. Afterwards neither a file under
MEDIA_ROOT nor a database row may remain.
"""

import pytest
from django.core.files.storage import FileSystemStorage
from django.urls import reverse

from assessments import moderation
from assessments.models import ModerationExport
from evidence import services
from evidence.models import Evidence, EvidenceFile
from tests.tasks_support import IMMEDIATE, use_task_backend
from tests.test_evidence import file_item, pdf_bytes, upload

pytestmark = pytest.mark.django_db


class DiskFullStorage(FileSystemStorage):
    """Writes the first bytes of the file, then fails like a full disk."""

    def _save(self, name, content):
        path = self.path(name)
        import os

        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as partial:
            partial.write(next(iter(content.chunks()))[:10])
        raise OSError(28, "No space left on device")


@pytest.fixture
def failing_disk(settings, media_root):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.test_storage_faults.DiskFullStorage",
            "OPTIONS": {"location": media_root, "base_url": None},
        },
    }
    return media_root


def files_under(root):
    return [path for path in root.rglob("*") if path.is_file()]


def test_the_failing_storage_does_write_a_partial_file(failing_disk):
    """The fault is real: without cleanup a partial file would be left."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    with pytest.raises(OSError):
        default_storage.save("x/partial.bin", ContentFile(b"0123456789abcdef"))
    assert [p.name for p in files_under(failing_disk)] == ["partial.bin"]


def test_failed_evidence_upload_leaves_no_file_and_no_row(client, make_user, failing_disk):
    candidate = make_user("cand", "candidate")
    client.force_login(candidate)
    response = client.post(
        reverse("evidence:evidence_create", args=["file"]),
        {"title": "Log book", "files": [upload("log.pdf", pdf_bytes())]},
    )
    assert response.status_code == 200
    assert "could not be stored" in response.content.decode()
    assert files_under(failing_disk) == []
    assert not Evidence.objects.exists()
    assert not EvidenceFile.objects.exists()


def test_failed_added_file_leaves_the_item_as_it_was(make_user, settings, media_root):
    candidate = make_user("cand", "candidate")
    evidence = file_item(candidate)
    before = files_under(media_root)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.test_storage_faults.DiskFullStorage",
            "OPTIONS": {"location": media_root, "base_url": None},
        },
    }
    with pytest.raises(services.StorageFailed):
        services.add_files(evidence=evidence, by=candidate, uploads=[upload("b.pdf", pdf_bytes())])
    assert files_under(media_root) == before
    assert evidence.files.count() == 1


def test_failed_report_export_leaves_no_file(make_user, failing_disk, settings):
    use_task_backend(settings, IMMEDIATE)
    from tests.test_moderation import new_round, quick_attempt

    admin = make_user("admin", "administrator")
    quick_attempt(make_user("c1", "candidate"), make_user("a1", "assessor"))
    round_ = new_round({"admin": admin})
    export = moderation.request_export(round_=round_, format="csv", by=admin)
    assert export.status == ModerationExport.Status.FAILED
    assert export.file.name == ""
    assert files_under(failing_disk) == []
