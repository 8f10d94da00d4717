"""Evidence and report exports on object storage (STORAGE_BACKEND=s3), against a real
S3-compatible server: SeaweedFS, started once per session by the `seaweedfs` fixture."""

import io
import json
import os
import subprocess
import sys
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError
from django.urls import reverse
from pypdf import PdfReader

from assessment_portal.storage import DOWNLOAD_CHUNK_BYTES
from assessments import moderation
from assessments import services as assessment_services
from evidence import services
from evidence.models import Evidence, EvidenceFile
from standards.models import Unit
from tests.tasks_support import IMMEDIATE, use_task_backend
from tests.test_evidence import create_files_item, file_item, login, pdf_bytes, png_bytes, upload
from tests.test_moderation import new_round, quick_attempt

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def people(make_user):
    return {
        "admin": make_user("admin", "administrator", is_moderator=True),
        "assessor": make_user("assessor", "assessor"),
        "candidate": make_user("cand", "candidate"),
        "other": make_user("other_cand", "candidate"),
    }


@pytest.fixture
def enrolment(people):
    return assessment_services.enrol(
        candidate=people["candidate"],
        unit=Unit.objects.get(code="57"),
        assessor=people["assessor"],
        by=people["admin"],
    )


def test_upload_is_stored_in_the_bucket_and_downloads_through_the_view(
    client, people, enrolment, seaweedfs, s3_bucket
):
    login(client, people["candidate"])
    response = create_files_item(client, [upload("Ōtaki log.pdf", pdf_bytes())])
    assert response.status_code == 302

    stored = EvidenceFile.objects.get()
    assert seaweedfs.keys(s3_bucket) == [stored.file.name]
    assert stored.file.name.startswith("evidence/") and "taki" not in stored.file.name
    obj = seaweedfs.client().get_object(Bucket=s3_bucket, Key=stored.file.name)
    assert obj["Body"].read() == pdf_bytes()

    response = client.get(stored.get_absolute_url())
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(pdf_bytes()))
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%C5%8Ctaki%20log.pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_download_of_another_candidates_file_is_404_on_s3(client, people, enrolment, s3_bucket):
    stored = file_item(people["candidate"]).files.get()
    login(client, people["other"])
    assert client.get(stored.get_absolute_url()).status_code == 404


def test_the_bucket_gives_nothing_without_the_portals_key(people, enrolment, seaweedfs, s3_bucket):
    stored = file_item(people["candidate"]).files.get()
    anonymous = f"{seaweedfs.endpoint_url}/{s3_bucket}/{stored.file.name}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=10)  # noqa: S310 (a local test server)
    assert refused.value.code == 403
    with pytest.raises(NotImplementedError, match="access-checked view"):
        default_storage.url(stored.file.name)


def _stored_text(candidate, name, content):
    """A candidate's item of one uploaded text file, stored in the bucket."""
    evidence = services.create_evidence_with_files(
        candidate=candidate,
        by=candidate,
        kind="file",
        data={"title": name},
        uploads=[upload(name, content)],
    )
    return evidence.files.get()


def test_a_large_download_streams_without_holding_the_file(
    client, people, enrolment, seaweedfs, s3_bucket
):
    content = b"A line of a long observation transcript.\n" * 200_000  # 8.2 MB
    stored = _stored_text(people["candidate"], "transcript.txt", content)
    login(client, people["candidate"])
    # boto3 loads what it needs to read an object on first use: not measured (run alone,
    # this test would otherwise count ~9 MB of it).
    b"".join(client.get(stored.get_absolute_url()).streaming_content)

    tracemalloc.start()
    try:
        response = client.get(stored.get_absolute_url())
        received = 0
        largest_chunk = 0
        for chunk in response.streaming_content:
            received += len(chunk)
            largest_chunk = max(largest_chunk, len(chunk))
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == len(content) == int(response["Content-Length"])
    assert largest_chunk == DOWNLOAD_CHUNK_BYTES
    # Far less than the 8 MB file: only a few chunks were ever held at once.
    assert peak < 2 * 1024 * 1024


def test_a_byte_range_is_fetched_from_the_bucket_alone(
    client, people, enrolment, seaweedfs, s3_bucket
):
    # 1 MB, as of a recording the browser seeks in; numbered, so each range is distinct.
    content = b"".join(b"Line %07d of the call.\n" % n for n in range(41_000))
    stored = _stored_text(people["candidate"], "call.txt", content)
    login(client, people["candidate"])
    # boto3 loads what it needs to ask for an object's size on first use: not measured.
    b"".join(
        client.get(stored.get_absolute_url(), headers={"Range": "bytes=0-0"}).streaming_content
    )
    tracemalloc.start()
    try:
        response = client.get(stored.get_absolute_url(), headers={"Range": "bytes=700000-700099"})
        body = b"".join(response.streaming_content)  # read to the end, which closes it
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 206
    assert body == content[700000:700100]
    assert response["Content-Range"] == f"bytes 700000-700099/{len(content)}"
    assert response["Content-Length"] == "100"
    # Only the range came from the bucket, not the megabyte before it.
    assert peak < 256 * 1024
    tail = client.get(stored.get_absolute_url(), headers={"Range": "bytes=-10"})
    assert b"".join(tail.streaming_content) == content[-10:]
    past = client.get(stored.get_absolute_url(), headers={"Range": f"bytes={len(content)}-"})
    assert (past.status_code, past["Content-Range"]) == (416, f"bytes */{len(content)}")


def test_removing_files_and_items_deletes_their_objects(
    client, people, enrolment, seaweedfs, s3_bucket, django_capture_on_commit_callbacks
):
    evidence = file_item(people["candidate"], files=[("a.pdf", None), ("b.png", png_bytes())])
    first, second = evidence.files.all()
    assert len(seaweedfs.keys(s3_bucket)) == 2
    login(client, people["candidate"])

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("evidence:file_delete", args=[first.pk]))
    assert seaweedfs.keys(s3_bucket) == [second.file.name]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("evidence:evidence_delete", args=[evidence.pk]))
    assert not Evidence.objects.exists()
    assert seaweedfs.keys(s3_bucket) == []


def test_a_refused_upload_leaves_no_object(client, people, enrolment, seaweedfs, s3_bucket):
    login(client, people["candidate"])
    response = create_files_item(
        client,
        [upload("log.pdf", pdf_bytes()), upload("notes.pdf", b"<html><body>hi</body></html>")],
    )
    assert "“notes.pdf” was not accepted" in response.content.decode()
    assert not EvidenceFile.objects.exists()
    assert seaweedfs.keys(s3_bucket) == []


def test_a_database_failure_midway_leaves_no_object(
    people, enrolment, seaweedfs, s3_bucket, monkeypatch
):
    create = EvidenceFile.objects.create
    rows = []

    def fail_second(**kwargs):
        # The first file reached the bucket and its row was written; the second
        # file is stored too, then the database fails.
        if rows:
            raise DatabaseError("server closed the connection unexpectedly")
        rows.append(create(**kwargs))
        return rows[-1]

    monkeypatch.setattr(EvidenceFile.objects, "create", fail_second)
    with pytest.raises(DatabaseError):
        file_item(people["candidate"], files=[("a.pdf", None), ("b.png", png_bytes())])

    assert len(rows) == 1
    assert not Evidence.objects.exists()
    assert not EvidenceFile.objects.exists()
    assert seaweedfs.keys(s3_bucket) == []


def test_moderation_report_is_stored_in_the_bucket_and_downloaded(
    client, people, seaweedfs, s3_bucket, settings
):
    use_task_backend(settings, IMMEDIATE)
    tama = people["candidate"]
    tama.first_name = "Tama"
    tama.save()
    quick_attempt(tama, people["assessor"])
    round_ = new_round(people)
    export = moderation.request_export(round_=round_, format="pdf", by=people["admin"])
    assert export.status == "done", export.error

    assert seaweedfs.keys(s3_bucket) == [export.file.name]
    assert export.file.name.startswith("moderation-exports/")
    client.force_login(people["admin"])
    response = client.get(reverse("moderation:export_download", args=[export.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    pdf = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(pdf)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "2026 moderation" in text and "US57" in " ".join(text.split()).replace(" ", "")

    client.force_login(people["assessor"])
    response = client.get(reverse("moderation:export_download", args=[export.pk]))
    assert response.status_code == 404


def test_a_missing_object_is_reported_not_served_empty(s3_bucket):
    with pytest.raises(FileNotFoundError):
        default_storage.open("evidence/2026/01/missing.pdf", "rb")


def test_storage_writes_never_replace_an_object(s3_bucket):
    first = default_storage.save("evidence/x.txt", ContentFile(b"first"))
    second = default_storage.save("evidence/x.txt", ContentFile(b"second"))
    assert first != second
    assert default_storage.open(first).read() == b"first"
    assert default_storage.open(second).read() == b"second"


def settings_in_a_fresh_process(**environ):
    """Import the settings module in a new interpreter with ``environ``; return its
    storage and cache settings (or the error it raised)."""
    script = (
        "import json, os\n"
        "from django.core.exceptions import ImproperlyConfigured\n"
        "try:\n"
        "    from assessment_portal import settings as s\n"
        "except ImproperlyConfigured as error:\n"
        "    print(json.dumps({'error': str(error)}))\n"
        "else:\n"
        "    print(json.dumps({'storage': s.STORAGES['default'], 'cache': s.CACHES['default']},"
        " default=str))\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("S3_", "STORAGE_", "REDIS_"))
    }
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", script],
        env={**env, "DEBUG": "1", **environ},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_storage_backend_is_chosen_by_the_environment(seaweedfs):
    assert settings_in_a_fresh_process()["storage"]["BACKEND"].endswith("FileSystemStorage")
    chosen = settings_in_a_fresh_process(**seaweedfs.environment("evidence-bucket"))
    assert chosen["storage"] == {
        "BACKEND": "assessment_portal.storage.PrivateS3Storage",
        "OPTIONS": {**seaweedfs.storage_options("evidence-bucket"), "addressing_style": None},
    }
    assert settings_in_a_fresh_process(STORAGE_BACKEND="s3") == {
        "error": "STORAGE_BACKEND=s3 needs S3_BUCKET."
    }
    assert (
        "must be 'filesystem' or 's3'"
        in (settings_in_a_fresh_process(STORAGE_BACKEND="ftp")["error"])
    )
