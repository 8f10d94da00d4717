"""Evidence uploads: content allow-list, rejections, file names and the size-limit handler.

The sample files are made here rather than kept in the repository, so each test shows
exactly what it feeds in. Kinds the standard library and Pillow cannot write (video,
HEIC, MP3, Ogg) are represented by their real leading structures, which is all that
sniffing reads.
"""

import hashlib
import io
import os
import re
import struct
import time
import wave
import zipfile
from functools import cache

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import JsonResponse
from django.test import Client, RequestFactory
from django.urls import path
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from PIL import Image

from evidence.upload_handlers import (
    REQUEST_OVERHEAD_BYTES,
    MaxSizeUploadHandler,
    UploadTooLarge,
    max_upload_bytes,
)
from evidence.uploads import (
    ALLOWED_TYPES,
    UploadRejected,
    check_upload,
    clean_filename,
    format_size,
    sniff,
    storage_name,
)

MB = 1024 * 1024

# --- Sample files -------------------------------------------------------------------


@cache
def pdf_bytes():
    from weasyprint import HTML

    return HTML(string="<p>Customer service log, week 3</p>").write_pdf()


def image_bytes(format):
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "teal").save(buffer, format=format)
    return buffer.getvalue()


def wav_bytes():
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * 800)
    return buffer.getvalue()


def zip_bytes(entries):
    """A ZIP of (name, content) pairs in order; a name "mimetype" is stored uncompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            compression = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=compression)
    return buffer.getvalue()


def office_bytes(folder, part="document.xml", extra=()):
    return zip_bytes(
        [
            ("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
            ("_rels/.rels", '<?xml version="1.0"?><Relationships/>'),
            (f"{folder}/{part}", '<?xml version="1.0"?><document/>'),
            *extra,
        ]
    )


def opendocument_bytes(kind, extra=()):
    return zip_bytes(
        [
            ("mimetype", f"application/vnd.oasis.opendocument.{kind}"),
            ("content.xml", '<?xml version="1.0"?><office:document-content/>'),
            ("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest/>'),
            *extra,
        ]
    )


def iso_media_bytes(major_brand, compatible=b"isommp42"):
    """An ISO base media file's opening 'ftyp' box, then an empty 'mdat' box."""
    ftyp = b"ftyp" + major_brand + struct.pack(">I", 0) + compatible
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 8) + b"mdat"


def ebml_bytes(doctype):
    """The EBML header that opens a WebM or Matroska file."""
    doctype_element = b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    body = b"\x42\x86\x81\x01" + doctype_element
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + b"\x18\x53\x80\x67"


# An MPEG-1 layer III frame header: 128 kbit/s, 44.1 kHz.
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413

SAMPLES = {
    # key: (file name, bytes)
    "pdf": ("log.pdf", pdf_bytes),
    "docx": ("report.docx", lambda: office_bytes("word")),
    "xlsx": ("budget.xlsx", lambda: office_bytes("xl", "workbook.xml")),
    "pptx": ("induction.pptx", lambda: office_bytes("ppt", "presentation.xml")),
    "odt": ("report.odt", lambda: opendocument_bytes("text")),
    "ods": ("budget.ods", lambda: opendocument_bytes("spreadsheet")),
    "odp": ("induction.odp", lambda: opendocument_bytes("presentation")),
    "jpeg": ("counter.jpg", lambda: image_bytes("JPEG")),
    "png": ("screen.png", lambda: image_bytes("PNG")),
    "gif": ("sign.gif", lambda: image_bytes("GIF")),
    "webp": ("shelf.webp", lambda: image_bytes("WEBP")),
    "heic": ("display.heic", lambda: iso_media_bytes(b"heic", b"mif1heic")),
    "heif": ("display.heif", lambda: iso_media_bytes(b"mif1", b"mif1heic")),
    "mp4": ("role-play.mp4", lambda: iso_media_bytes(b"isom")),
    "m4a": ("interview.m4a", lambda: iso_media_bytes(b"M4A ", b"M4A mp42isom")),
    "mov": ("role-play.mov", lambda: iso_media_bytes(b"qt  ", b"qt  ")),
    "webm": ("role-play.webm", lambda: ebml_bytes(b"webm")),
    "mkv": ("role-play.mkv", lambda: ebml_bytes(b"matroska")),
    "mp3": ("interview.mp3", lambda: b"ID3\x04\x00\x00\x00\x00\x00\x00" + MP3_FRAME),
    "wav": ("interview.wav", wav_bytes),
    "ogg": ("voice-note.opus", lambda: b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead"),
    "text": ("reflection.txt", lambda: "Tēnā koe — I greeted the customer.\n".encode()),
}


def uploaded(name, content, file_class=SimpleUploadedFile):
    if file_class is SimpleUploadedFile:
        return SimpleUploadedFile(name, content)
    upload = TemporaryUploadedFile(name, "application/octet-stream", len(content), None)
    upload.write(content)
    upload.seek(0)
    return upload


def rejection(name, content, max_bytes=MB):
    with pytest.raises(UploadRejected) as caught:
        check_upload(uploaded(name, content), max_bytes)
    return caught.value


# --- Allowed kinds ------------------------------------------------------------------


def test_every_allowed_type_has_a_sample():
    assert SAMPLES.keys() == ALLOWED_TYPES.keys()


@pytest.mark.parametrize("file_class", [SimpleUploadedFile, TemporaryUploadedFile])
@pytest.mark.parametrize("key", SAMPLES)
def test_each_allowed_type_is_accepted(key, file_class):
    name, make = SAMPLES[key]
    content = make()
    checked = check_upload(uploaded(name, content, file_class), max_bytes=MB)
    assert checked.type == ALLOWED_TYPES[key]
    assert checked.type.label == ALLOWED_TYPES[key].label
    assert checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()
    assert checked.original_name == name


@pytest.mark.parametrize(
    ("name", "content", "mime", "label"),
    [
        ("a.pdf", pdf_bytes, "application/pdf", "PDF document"),
        ("a.png", lambda: image_bytes("PNG"), "image/png", "PNG image"),
        ("a.txt", lambda: b"notes", "text/plain", "text file"),
        ("a.mp3", lambda: MP3_FRAME, "audio/mpeg", "MP3 audio file"),
        (
            "a.docx",
            lambda: office_bytes("word"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Word document",
        ),
    ],
)
def test_types_carry_their_content_type_and_label(name, content, mime, label):
    checked = check_upload(uploaded(name, content()), max_bytes=MB)
    assert (checked.type.mime, checked.type.label) == (mime, label)


@pytest.mark.parametrize(
    "name", ["COUNTER.JPG", "counter.jpeg", "notes.csv", "memo.m4a", "Photo.HEIC"]
)
def test_any_listed_extension_of_the_type_in_any_case_is_accepted(name):
    content = {
        ".jpg": lambda: image_bytes("JPEG"),
        ".jpeg": lambda: image_bytes("JPEG"),
        ".csv": lambda: b"date,customer,outcome\n2026-03-01,Ms Rangi,resolved\n",
        ".m4a": lambda: iso_media_bytes(b"mp42"),  # Android voice recorders use MP4 brands
        ".heic": lambda: iso_media_bytes(b"heic"),
    }[os.path.splitext(name)[1].lower()]()
    assert check_upload(uploaded(name, content), max_bytes=MB).original_name == name


@pytest.mark.parametrize("key", ["png", "docx", "text"])
def test_sniff_reads_from_the_start_and_puts_the_position_back(key):
    name, make = SAMPLES[key]
    upload = uploaded(name, make(), TemporaryUploadedFile)
    upload.seek(5)
    assert sniff(upload) == ALLOWED_TYPES[key]
    assert upload.tell() == 5


def test_sniff_answers_none_for_what_is_not_allowed():
    assert sniff(io.BytesIO(b"<html><body>hi</body></html>")) is None
    assert sniff(io.BytesIO(b"\x7fELF\x02\x01\x01")) is None


# --- Size ---------------------------------------------------------------------------


def test_empty_file_is_rejected():
    rejected = rejection("empty.pdf", b"")
    assert rejected.rule == "empty"
    assert rejected.message == "“empty.pdf” is empty."


def test_file_over_the_limit_is_rejected_with_both_sizes():
    rejected = rejection("video.mp4", iso_media_bytes(b"isom") + b"\x00" * 10_000, 1024)
    assert rejected.rule == "too_large"
    assert rejected.message == "“video.mp4” is 9.8 KB; the limit is 1 KB."


def test_file_exactly_at_the_limit_is_accepted():
    content = b"x" * 1024
    assert check_upload(uploaded("notes.txt", content), max_bytes=1024).size == 1024


@pytest.mark.parametrize(
    ("num_bytes", "round_up", "expected"),
    [
        (812, False, "812 bytes"),
        (50 * MB, False, "50 MB"),
        (50 * MB + 1, True, "50.1 MB"),
        (50 * MB + 1, False, "50 MB"),
        (61 * MB, True, "61 MB"),
        (4300, True, "4.2 KB"),
    ],
)
def test_format_size(num_bytes, round_up, expected):
    assert format_size(num_bytes, round_up=round_up) == expected


# --- Refused kinds ------------------------------------------------------------------

SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
EXE_IN_ZIP = zip_bytes([("setup.exe", b"MZ" + b"\x00" * 200)])


@pytest.mark.parametrize(
    ("name", "content", "described_as"),
    [
        ("report.pdf", b"<!DOCTYPE html><html><body>Report</body></html>", "an HTML page"),
        ("report.pdf", b"\xef\xbb\xbf \n\t<HTML><body>Report</body></HTML>", "an HTML page"),
        ("report.txt", b"<!-- saved page -->\n<p>Report</p>", "an HTML page"),
        ("photo.jpg", b"MZ" + b"\x90\x00" * 100, "a Windows program"),
        ("photo.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "a Linux program"),
        ("photo.png", b"\xcf\xfa\xed\xfe" + b"\x00" * 100, "a macOS program"),
        ("diagram.png", SVG_WITH_SCRIPT, "an SVG image"),
        ("diagram.svg", SVG_WITH_SCRIPT, "an SVG image"),
        (
            "diagram.svg",
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
            "an SVG image",
        ),
        ("data.txt", b'<?xml version="1.0"?><order><item/></order>', "an XML document"),
        ("report.docx", EXE_IN_ZIP, "a ZIP archive"),
        ("notes.txt", b"#!/bin/sh\nrm -rf ~\n", "a script"),
        ("notes.txt", b"Notes\n<script>alert(1)</script>\n", "text containing a web page script"),
        ("notes.txt", b"Notes\n<SCRIPT src=//evil.example></SCRIPT>", "text containing a web"),
        ("notes.txt", "Café notes".encode("latin-1"), "an unrecognised kind of file"),
        ("notes.txt", b"Notes\x00with a NUL", "an unrecognised kind of file"),
        ("clip.mp4", iso_media_bytes(b"avif", b"avifmif1"), "an unrecognised kind of file"),
        ("clip.avi", b"RIFF\x00\x00\x00\x00AVI LIST", "an unrecognised kind of file"),
        # Eleven sync bits are not enough to be MP3: AAC (layer bits 00), bad bit rate.
        ("song.mp3", b"\xff\xf1\x50\x80" + b"\x00" * 100, "an unrecognised kind of file"),
        ("song.mp3", b"\xff\xfb\xf0\x64" + b"\x00" * 100, "an unrecognised kind of file"),
        ("report.docx", b"PK\x03\x04" + b"\x00" * 100, "a damaged ZIP archive"),
    ],
)
def test_disguised_and_unlisted_files_are_refused_by_their_contents(name, content, described_as):
    rejected = rejection(name, content)
    assert rejected.rule == "type_not_allowed"
    assert rejected.message.startswith(
        f"“{name}” was not accepted: its contents are {described_as}"
    )
    assert "which is not an allowed evidence type. Allowed file types: .pdf, .docx," in (
        rejected.message
    )


def test_windows_program_with_a_zip_appended_is_not_taken_for_a_document():
    rejected = rejection("report.docx", b"MZ" + b"\x00" * 200 + office_bytes("word"))
    assert rejected.rule == "type_not_allowed"
    assert "a Windows program" in rejected.message


@pytest.mark.parametrize(
    ("name", "content", "described_as"),
    [
        (
            "report.docx",
            office_bytes("word", extra=[("word/vbaProject.bin", b"\xd0\xcf\x11\xe0")]),
            "an Office document with macros",
        ),
        (
            "report.odt",
            opendocument_bytes("text", extra=[("Basic/Standard/Module1.xml", "<module/>")]),
            "an OpenDocument file with macros",
        ),
    ],
)
def test_documents_with_macros_are_refused(name, content, described_as):
    rejected = rejection(name, content)
    assert rejected.rule == "type_not_allowed"
    assert f"its contents are {described_as}" in rejected.message


def test_opendocument_needs_its_mimetype_stored_first():
    compressed_mimetype = io.BytesIO()
    with zipfile.ZipFile(compressed_mimetype, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    assert sniff(compressed_mimetype) is None


def test_text_is_checked_as_utf8_all_the_way_through():
    content = b"a,b\n" * 30_000 + "é".encode("latin-1")  # past the first 64 KB chunk
    assert rejection("big.csv", content).rule == "type_not_allowed"


def test_text_that_merely_mentions_markup_is_accepted():
    content = b"Outcome: price < $20 for 3 <b> items; see <https://example.org>.\n"
    assert check_upload(uploaded("notes.txt", content), max_bytes=MB).type.key == "text"


# --- Extension ----------------------------------------------------------------------


def test_png_named_jpg_is_refused_with_the_right_extension_suggested():
    rejected = rejection("photo.jpg", image_bytes("PNG"))
    assert rejected.rule == "extension_mismatch"
    assert rejected.message == (
        "“photo.jpg” contains a PNG image but its name ends in .jpg; "
        "rename it to .png and upload it again."
    )


def test_file_without_an_extension_is_told_which_to_add():
    rejected = rejection("interview", MP3_FRAME)
    assert rejected.rule == "extension_mismatch"
    assert rejected.message == (
        "“interview” contains an MP3 audio file but its name has no extension; "
        "rename it to end in .mp3 and upload it again."
    )


def test_allowed_content_with_a_dangerous_extension_is_refused():
    rejected = rejection("invoice.pdf.exe", pdf_bytes())
    assert rejected.rule == "extension_mismatch"
    assert "rename it to .pdf" in rejected.message


# --- Names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\x\\y.pdf", "y.pdf"),
        ("..\\../mixed\\path/report.pdf", "report.pdf"),
        ("re\x00po\x1brt\x7f.pdf", "report.pdf"),
        ("\u202efdp.exe", "fdp.exe"),  # right-to-left override would show "exe.pdf"
        ("line\u2028break\u00a0name.pdf", "line break name.pdf"),
        ("  report.pdf. . ", "report.pdf"),
        ("Tēnā koe.docx", "Tēnā koe.docx"),
    ],
)
def test_clean_filename(raw, clean):
    assert clean_filename(raw) == clean


def test_long_names_are_shortened_keeping_the_extension():
    clean = clean_filename("a" * 300 + ".docx")
    assert len(clean) == 200
    assert clean == "a" * 195 + ".docx"


def test_long_name_with_a_long_suffix_is_just_cut():
    assert clean_filename("a" * 150 + "." + "b" * 150) == ("a" * 150 + "." + "b" * 150)[:200]


@pytest.mark.parametrize("raw", ["", "..", "\x00\x01", "dir/", "C:\\dir\\", " . "])
def test_names_with_nothing_left_are_empty(raw):
    assert clean_filename(raw) == ""


def test_check_upload_keeps_only_the_clean_name():
    checked = check_upload(uploaded("C:\\Users\\me\\log.pdf", pdf_bytes()), max_bytes=MB)
    assert checked.original_name == "log.pdf"


def test_unusable_name_is_rejected():
    rejected = rejection("C:\\Users\\me\\", pdf_bytes())
    assert rejected.rule == "bad_name"
    assert "rename the file" in rejected.message


def test_storage_name_is_made_by_the_server():
    checked = check_upload(uploaded("..%2Fsecret report.jpeg", image_bytes("JPEG")), MB)
    first, second = storage_name(checked), storage_name(checked)
    assert re.fullmatch(r"evidence/\d{4}/\d{2}/[0-9a-f]{32}\.jpg", first)
    assert first != second
    assert "secret" not in first and "report" not in first


# --- The size-limit upload handler --------------------------------------------------

LIMIT = 100 * 1024
CSRF_SECRET = "a" * 32
STORED = {}  # file name -> (bytes that reached storage, its temporary file's path)


class RecordingTemporaryFileHandler(TemporaryFileUploadHandler):
    """Django's disk handler, noting how much of each file reached it and where."""

    def receive_data_chunk(self, raw_data, start):
        STORED[self.file_name] = (start + len(raw_data), self.file.temporary_file_path())
        return super().receive_data_chunk(raw_data, start)


@login_not_required
@csrf_exempt
def upload_view(request):
    request.upload_handlers.insert(0, MaxSizeUploadHandler(request))
    try:
        return _receive_upload(request)
    except UploadTooLarge:
        return JsonResponse(
            {"rejections": [r.message for r in request.upload_rejections]}, status=413
        )


@csrf_protect
def _receive_upload(request):
    files = {
        field: hashlib.sha256(upload.read()).hexdigest() for field, upload in request.FILES.items()
    }
    return JsonResponse(
        {
            "files": files,
            "note": request.POST.get("note"),
            "rejections": [(r.rule, r.message) for r in request.upload_rejections],
        }
    )


urlpatterns = [path("upload/", upload_view)]


@pytest.fixture
def upload_client(settings):
    settings.ROOT_URLCONF = __name__
    settings.EVIDENCE_MAX_UPLOAD_BYTES = LIMIT
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}.RecordingTemporaryFileHandler"]
    STORED.clear()
    client = Client(enforce_csrf_checks=True)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    return client


def post_files(client, **files):
    data = {"csrfmiddlewaretoken": CSRF_SECRET}
    for field, (name, content) in files.items():
        data[field] = SimpleUploadedFile(name, content)
    data["note"] = "after the files"
    return client.post("/upload/", data)


def test_max_upload_bytes_defaults_to_50_mb(settings):
    del settings.EVIDENCE_MAX_UPLOAD_BYTES
    assert max_upload_bytes() == 50 * MB
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1234
    assert max_upload_bytes() == 1234


def test_file_over_the_limit_is_dropped_while_arriving(upload_client):
    big, small = b"B" * (3 * LIMIT), b"S" * 1000
    response = post_files(upload_client, big=("big.mp4", big), small=("small.txt", small))

    assert response.status_code == 200
    body = response.json()
    assert body["files"] == {"small": hashlib.sha256(small).hexdigest()}
    assert body["rejections"] == [
        ["too_large", "“big.mp4” is over the 100 KB limit and was not uploaded."]
    ]
    assert body["note"] == "after the files"
    stored_bytes, temporary_path = STORED["big.mp4"]
    assert stored_bytes <= LIMIT
    assert not os.path.exists(temporary_path)


def test_file_at_the_limit_arrives_intact(upload_client):
    content = os.urandom(LIMIT)
    response = post_files(upload_client, evidence=("role-play.mp4", content))

    assert response.status_code == 200
    assert response.json() == {
        "files": {"evidence": hashlib.sha256(content).hexdigest()},
        "note": "after the files",
        "rejections": [],
    }


def test_request_far_over_the_limit_is_refused_before_it_is_read(upload_client):
    content = b"B" * (LIMIT + REQUEST_OVERHEAD_BYTES + 1)
    response = post_files(upload_client, evidence=("big.mp4", content))

    assert response.status_code == 413
    assert response.json() == {"rejections": ["Your upload is 1.1 MB; the limit is 100 KB."]}
    assert STORED == {}


def test_refusal_by_content_length_reads_nothing(settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = LIMIT

    class Unreadable:
        def read(self, *args):
            raise AssertionError("the request body was read")

    request = RequestFactory().post("/upload/")
    handler = MaxSizeUploadHandler(request)
    with pytest.raises(UploadTooLarge):
        handler.handle_raw_input(Unreadable(), {}, LIMIT + REQUEST_OVERHEAD_BYTES + 1, b"xyz")
    assert [r.rule for r in request.upload_rejections] == ["too_large"]
    assert handler.handle_raw_input(Unreadable(), {}, LIMIT, b"xyz") is None


def test_upload_without_a_csrf_token_is_still_refused(upload_client):
    response = upload_client.post("/upload/", {"evidence": SimpleUploadedFile("a.txt", b"hi")})
    assert response.status_code == 403


# --- Archives bound their own cost (issue 11, finding 9) ---------------------------------


def many_entries_docx(count):
    """A .docx-looking ZIP with ``count`` tiny entries, built in well under a second."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><document/>')
        for i in range(count):
            archive.writestr(f"word/media/i{i}", b"")
    return buffer.getvalue()


def test_a_document_with_more_entries_than_a_real_one_is_refused_before_listing(monkeypatch):
    content = many_entries_docx(20_000)
    listed = []
    monkeypatch.setattr(zipfile.ZipFile, "infolist", lambda self: listed.append(1) or [])
    started = time.perf_counter()
    rejected = rejection("report.docx", content, max_bytes=50 * MB)
    elapsed = time.perf_counter() - started
    assert rejected.rule == "archive_too_large"
    assert "listing 20,002 entries" in rejected.message
    assert "more than any real document has (at most 10,000 entries" in rejected.message
    assert listed == []
    assert elapsed < 0.5
    assert sniff(io.BytesIO(content)) is None


def test_a_huge_central_directory_is_refused_even_with_few_entries_claimed(monkeypatch):
    content = bytearray(many_entries_docx(5))
    end = content.rfind(b"PK\x05\x06")
    # Claim a 64 MB directory: zipfile would try to read and parse all of it.
    content[end + 12 : end + 16] = struct.pack("<I", 64 * MB)
    rejected = rejection("report.docx", bytes(content), max_bytes=50 * MB)
    assert rejected.rule == "archive_too_large"


def test_a_zip64_archive_states_its_size_in_the_zip64_record():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><document/>')
        for i in range(0x10000):  # more than the plain end record can count
            archive.writestr(f"{i}", b"")
    rejected = rejection("report.docx", buffer.getvalue(), max_bytes=50 * MB)
    assert "listing 65,538 entries" in rejected.message


def test_real_documents_with_many_parts_are_still_accepted():
    content = many_entries_docx(2_000)
    assert check_upload(uploaded("report.docx", content), 50 * MB).type.key == "docx"
    for key in ["docx", "xlsx", "pptx", "odt"]:
        name, make = SAMPLES[key]
        assert check_upload(uploaded(name, make()), MB).type.key == key
