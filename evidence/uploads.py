"""Checks on uploaded evidence files (OWASP ASVS 5.0, 5.2: file upload).

A file is accepted by what it contains, never by the name or content type the
browser sent: `sniff` recognises each allowed kind from its leading bytes (or,
for Office and OpenDocument files, from the ZIP's list of entries), and
`check_upload` then insists that the file's name ends in an extension that
fits what was found, so a download can never be opened as something else.

The file is stored under a name the server makes up (`storage_name`); the
candidate's own file name is kept only, cleaned, for display and download.
"""

import codecs
import hashlib
import math
import os
import re
import struct
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass

from django.utils import timezone

HEAD_SIZE = 8 * 1024

# Bounds on a ZIP-based document's directory, read from its end record before the
# directory itself is listed (listing builds an object per entry: a million-entry
# archive costs seconds and hundreds of MB). A real .docx/.xlsx/.pptx/.odt has tens to
# a few hundred entries — one per part, image and embedded object — and even a workbook
# with thousands of sheets stays well under 10,000; each directory entry is 46 bytes plus
# its name (rarely over 100 characters), so 10,000 entries fit in about 1.5 MB.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_DIRECTORY_BYTES = 4 * 1024 * 1024
MAX_NAME_LENGTH = 200
# Longer "extensions" are just part of an odd name, so they are not preserved when shortening.
MAX_EXTENSION_LENGTH = 16


@dataclass(frozen=True)
class AllowedType:
    """A kind of evidence file: `key` is a short stable name, `mime` the content type to
    serve it with, `label` a name for people; the first of `extensions` is the usual one."""

    key: str
    mime: str
    label: str
    extensions: tuple[str, ...]


ALLOWED_TYPES = {
    allowed.key: allowed
    for allowed in (
        AllowedType("pdf", "application/pdf", "PDF document", (".pdf",)),
        AllowedType(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Word document",
            (".docx",),
        ),
        AllowedType(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Excel spreadsheet",
            (".xlsx",),
        ),
        AllowedType(
            "pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "PowerPoint presentation",
            (".pptx",),
        ),
        AllowedType(
            "odt", "application/vnd.oasis.opendocument.text", "OpenDocument text", (".odt",)
        ),
        AllowedType(
            "ods",
            "application/vnd.oasis.opendocument.spreadsheet",
            "OpenDocument spreadsheet",
            (".ods",),
        ),
        AllowedType(
            "odp",
            "application/vnd.oasis.opendocument.presentation",
            "OpenDocument presentation",
            (".odp",),
        ),
        AllowedType("jpeg", "image/jpeg", "JPEG image", (".jpg", ".jpeg")),
        AllowedType("png", "image/png", "PNG image", (".png",)),
        AllowedType("gif", "image/gif", "GIF image", (".gif",)),
        AllowedType("webp", "image/webp", "WebP image", (".webp",)),
        AllowedType("heic", "image/heic", "HEIC photo", (".heic", ".heif")),
        AllowedType("heif", "image/heif", "HEIF photo", (".heif", ".heic")),
        # Phones' voice recorders often write audio-only MP4 with the generic brands and
        # name it .m4a, so the generic MP4 kind accepts that name too.
        AllowedType("mp4", "video/mp4", "MP4 video", (".mp4", ".m4v", ".m4a")),
        AllowedType("m4a", "audio/mp4", "M4A audio file", (".m4a", ".mp4")),
        AllowedType("mov", "video/quicktime", "QuickTime video", (".mov",)),
        AllowedType("webm", "video/webm", "WebM video", (".webm",)),
        AllowedType("mkv", "video/x-matroska", "Matroska video", (".mkv",)),
        AllowedType("mp3", "audio/mpeg", "MP3 audio file", (".mp3",)),
        AllowedType("wav", "audio/wav", "WAV audio file", (".wav",)),
        AllowedType("ogg", "audio/ogg", "Ogg audio file", (".ogg", ".oga", ".opus")),
        AllowedType("text", "text/plain", "text file", (".txt", ".csv")),
    )
}

# For messages and the file input's `accept` attribute.
ALLOWED_EXTENSIONS = tuple(
    dict.fromkeys(ext for allowed in ALLOWED_TYPES.values() for ext in allowed.extensions)
)

# ISO base media files (MP4, QuickTime, HEIF) name their kind by the "major brand" in the
# leading 'ftyp' box. Only the major brand counts: AVIF, for one, lists mif1 as compatible.
_ISO_MAJOR_BRANDS = {
    b"heic": "heic",
    b"heix": "heic",
    b"heim": "heic",
    b"heis": "heic",
    b"mif1": "heif",
    b"msf1": "heif",
    b"isom": "mp4",
    b"iso2": "mp4",
    b"iso4": "mp4",
    b"iso5": "mp4",
    b"iso6": "mp4",
    b"mp41": "mp4",
    b"mp42": "mp4",
    b"avc1": "mp4",
    b"dash": "mp4",
    b"M4V ": "mp4",
    b"M4A ": "m4a",
    b"qt  ": "mov",
}

_OPENDOCUMENT_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
}

_OFFICE_FOLDERS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}

_PROGRAMS = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xfe\xed\xfa\xce", "a macOS program"),
    (b"\xfe\xed\xfa\xcf", "a macOS program"),
    (b"\xce\xfa\xed\xfe", "a macOS program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java program"),
    (b"#!", "a script"),
)

# The openings that make a browser treat a response as HTML (WHATWG MIME Sniffing, 7.1),
# plus XML and SVG, which can carry scripts too.
_MARKUP_START = re.compile(
    r"<!doctype|<!--|<\?xml|<svg"
    r"|<(?:html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)[\s>]"
)

_UNRECOGNISED = "an unrecognised kind of file"


class UploadRejected(Exception):
    """An upload that is not accepted.

    `message` says why in words a candidate can act on; `rule` is a short code for
    logs and tests: "empty", "too_large", "type_not_allowed", "extension_mismatch"
    or "bad_name".
    """

    def __init__(self, message, rule):
        super().__init__(message)
        self.message = message
        self.rule = rule


@dataclass(frozen=True)
class CheckedUpload:
    """An accepted file: its kind, size in bytes, SHA-256 (hex) and cleaned name."""

    type: AllowedType
    size: int
    sha256: str
    original_name: str


def sniff(fileobj):
    """Return the AllowedType the contents of `fileobj` are, or None.

    Reads the first few KB, an archive's directory for ZIP-based kinds, and all of a
    text file (it must be UTF-8 throughout). `fileobj` must be seekable; its position
    is left where it was.
    """
    try:
        found = _identify(fileobj)
    except ArchiveTooLarge:
        return None
    return found if isinstance(found, AllowedType) else None


class ArchiveTooLarge(Exception):
    """A ZIP whose directory is bigger than any real document's; it is not listed."""

    def __init__(self, entries, directory_bytes):
        super().__init__(entries, directory_bytes)
        self.entries = entries
        self.directory_bytes = directory_bytes


def check_upload(uploaded_file, max_bytes):
    """Return a CheckedUpload for an acceptable file, or raise UploadRejected.

    The content type the browser claimed is ignored: it is whatever the client says.
    """
    name = clean_filename(uploaded_file.name)
    if not name:
        raise UploadRejected(
            "The file's name could not be used; rename the file (for example to "
            "evidence.pdf) and upload it again.",
            "bad_name",
        )
    size, sha256 = _measure(uploaded_file, name, max_bytes)
    if size == 0:
        raise UploadRejected(f"“{name}” is empty.", "empty")

    try:
        found = _identify(uploaded_file)
    except ArchiveTooLarge as archive:
        raise UploadRejected(
            f"“{name}” was not accepted: it is a ZIP archive listing {archive.entries:,} "
            f"entries in a {format_size(archive.directory_bytes, round_up=True)} directory, "
            f"more than any real document has (at most {MAX_ZIP_ENTRIES:,} entries and "
            f"{format_size(MAX_ZIP_DIRECTORY_BYTES)}). Save the document again from its "
            "application, or convert it to PDF, and upload that.",
            "archive_too_large",
        ) from None
    if not isinstance(found, AllowedType):
        raise UploadRejected(
            f"“{name}” was not accepted: its contents are {found}, which is not an allowed "
            f"evidence type. Allowed file types: {', '.join(ALLOWED_EXTENSIONS)}.",
            "type_not_allowed",
        )

    extension = os.path.splitext(name)[1].lower()
    if extension not in found.extensions:
        expected = found.extensions[0]
        if extension:
            problem = f"its name ends in {extension}; rename it to {expected}"
        else:
            problem = f"its name has no extension; rename it to end in {expected}"
        raise UploadRejected(
            f"“{name}” contains {_with_article(found.label)} but {problem} and upload it again.",
            "extension_mismatch",
        )
    return CheckedUpload(type=found, size=size, sha256=sha256, original_name=name)


def clean_filename(name):
    """Return `name` made safe to show and to offer as a download name ("" if nothing is left).

    Browsers may send a full path, and a name can hide tricks in invisible characters
    (U+202E turns "cod.exe" into what reads as "exe.doc"), so keep only the last path
    part, drop control and format characters, and make any other spacing a plain space.
    """
    name = re.split(r"[/\\]", name or "")[-1]
    name = "".join(
        " " if unicodedata.category(char).startswith("Z") else char
        for char in name
        if not unicodedata.category(char).startswith("C")
    )
    # Windows drops trailing dots and spaces, which would change the extension.
    name = name.strip().rstrip(". ")
    if len(name) > MAX_NAME_LENGTH:
        stem, extension = os.path.splitext(name)
        if len(extension) > MAX_EXTENSION_LENGTH:
            stem, extension = name, ""
        name = stem[: MAX_NAME_LENGTH - len(extension)].rstrip() + extension
    return name


def storage_name(checked):
    """Return a new server-made storage path for a checked upload.

    Nothing of the candidate's file name is used: the extension is the usual one
    for the kind of file its contents are.
    """
    now = timezone.now()
    return f"evidence/{now:%Y}/{now:%m}/{uuid.uuid4().hex}{checked.type.extensions[0]}"


def format_size(num_bytes, *, round_up=False):
    """Return a size as people read it: "812 bytes", "4.2 KB", "61 MB".

    Round a file's size up and a limit down, so a file one byte too big never
    reads as "50 MB; the limit is 50 MB".
    """
    value, unit = num_bytes, "bytes"
    for larger_unit in ("KB", "MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger_unit
    if unit == "bytes":
        return f"{num_bytes} bytes"
    tenths = (math.ceil if round_up else math.floor)(value * 10) / 10
    return f"{tenths:.1f}".removesuffix(".0") + f" {unit}"


def _measure(uploaded_file, name, max_bytes):
    """Return the file's size and SHA-256, read in chunks so no file is held in memory whole."""
    digest = hashlib.sha256()
    size = 0
    for chunk in uploaded_file.chunks():
        size += len(chunk)
        if size > max_bytes:
            # No need to read the rest: Django counted the full size as the file arrived.
            full_size = max(size, uploaded_file.size or 0)
            raise UploadRejected(
                f"“{name}” is {format_size(full_size, round_up=True)}; "
                f"the limit is {format_size(max_bytes)}.",
                "too_large",
            )
        digest.update(chunk)
    return size, digest.hexdigest()


def _identify(fileobj):
    """Return the AllowedType of the contents, or a phrase saying what they are instead."""
    position = fileobj.tell()
    try:
        fileobj.seek(0)
        head = fileobj.read(HEAD_SIZE)
        # Checked by its opening, not by zipfile alone: zipfile also finds an archive
        # appended to something else, such as a self-extracting Windows program.
        if head.startswith(b"PK\x03\x04"):
            return _identify_zip(fileobj)
        return _identify_by_signature(head) or _identify_text(fileobj, head)
    finally:
        fileobj.seek(position)


def _identify_by_signature(head):
    """Return the AllowedType, or the refused kind, that the leading bytes announce, if any."""
    key = None
    if head.startswith(b"%PDF-"):
        key = "pdf"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        key = "png"
    elif head.startswith(b"\xff\xd8\xff"):
        key = "jpeg"
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        key = "gif"
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        key = "webp"
    elif head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        key = "wav"
    elif head.startswith(b"OggS"):
        key = "ogg"
    elif head.startswith(b"\x1a\x45\xdf\xa3"):
        # The EBML header's DocType, a few bytes in, says "webm" or "matroska".
        key = "webm" if b"webm" in head[:64] else "mkv"
    elif head[4:8] == b"ftyp":
        key = _ISO_MAJOR_BRANDS.get(head[8:12])
    elif head.startswith(b"ID3") or _is_mp3_frame(head):
        key = "mp3"
    if key:
        return ALLOWED_TYPES[key]
    return next((kind for magic, kind in _PROGRAMS if head.startswith(magic)), None)


def _is_mp3_frame(head):
    """Whether the file opens with an MPEG audio layer III frame header.

    The eleven sync bits alone also match AAC audio and chance data, so the header's
    version, layer, bit-rate and sample-rate fields must hold valid values too.
    """
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    return version != 0b01 and layer == 0b01 and bitrate not in (0, 0b1111) and sample_rate != 0b11


def _identify_zip(fileobj):
    """Tell Office and OpenDocument files from other ZIP archives, without extracting anything.

    Only the archive's directory is read, plus at most a few bytes of OpenDocument's
    `mimetype` entry, so a ZIP bomb costs nothing; and the directory is listed only
    once its end record says it is no bigger than a real document's.
    """
    try:
        entries, directory_bytes = _directory_size(fileobj)
        if entries > MAX_ZIP_ENTRIES or directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
            raise ArchiveTooLarge(entries, directory_bytes)
        with zipfile.ZipFile(fileobj) as archive:
            entries = archive.infolist()
            if entries and entries[0].filename == "mimetype":
                return _identify_opendocument(archive, entries)
            names = [entry.filename for entry in entries]
            if "[Content_Types].xml" in names:
                return _identify_office(names)
            return "a ZIP archive"
    # A damaged or hostile archive can make zipfile raise any of these.
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError):
        return "a damaged ZIP archive"


_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END_OF_DIRECTORY = b"PK\x06\x06"
# The end record is 22 bytes plus a comment of up to 65,535 bytes.
_END_SEARCH = 22 + 0xFFFF


def _directory_size(fileobj):
    """(entries, directory bytes) as the archive's end record states them.

    Found the way zipfile finds it (the last end-of-directory signature within the
    final 64 KB), so the figures checked are the ones zipfile would go on to use;
    ZIP64 archives state theirs in the ZIP64 end record the locator points to.
    """
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(max(0, size - _END_SEARCH))
    tail = fileobj.read()
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("no end-of-directory record")
    entries, directory_bytes = struct.unpack("<HI", tail[at + 10 : at + 16])
    locator = tail[at - 20 : at] if at >= 20 else b""
    if locator.startswith(_ZIP64_LOCATOR):
        (record_offset,) = struct.unpack("<Q", locator[8:16])
        fileobj.seek(record_offset)
        record = fileobj.read(56)
        if len(record) < 56 or not record.startswith(_ZIP64_END_OF_DIRECTORY):
            raise zipfile.BadZipFile("damaged ZIP64 end record")
        entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    return entries, directory_bytes


def _identify_opendocument(archive, entries):
    # OpenDocument requires `mimetype` stored uncompressed; insisting on it also keeps
    # hostile compressed data away from the decompressors.
    if entries[0].compress_type != zipfile.ZIP_STORED:
        return "a ZIP archive"
    with archive.open(entries[0]) as mimetype:
        key = _OPENDOCUMENT_MIMETYPES.get(mimetype.read(100))
    if key is None:
        return "a ZIP archive"
    # Macros would run code on the assessor's computer.
    if any(entry.filename.startswith(("Basic/", "Scripts/")) for entry in entries):
        return "an OpenDocument file with macros"
    return ALLOWED_TYPES[key]


def _identify_office(names):
    folders = {name.split("/")[0] + "/" for name in names}
    key = next((key for folder, key in _OFFICE_FOLDERS.items() if folder in folders), None)
    if key is None:
        return "a ZIP archive"
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        return "an Office document with macros"
    return ALLOWED_TYPES[key]


def _identify_text(fileobj, head):
    """Return the text type for UTF-8 text that no browser would take for a web page."""
    if not _is_utf8_without_nul(fileobj):
        return _UNRECOGNISED
    opening = head.decode("utf-8", errors="ignore").lstrip("\ufeff").lstrip().lower()
    if _MARKUP_START.match(opening):
        if opening.startswith(("<?xml", "<svg", "<!doctype svg")):
            return "an SVG image" if "<svg" in opening else "an XML document"
        return "an HTML page"
    if "<script" in opening:
        return "text containing a web page script"
    return ALLOWED_TYPES["text"]


def _is_utf8_without_nul(fileobj):
    """Whether the whole file is UTF-8 with no NUL bytes, read a chunk at a time."""
    fileobj.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := fileobj.read(64 * 1024):
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _with_article(label):
    # Acronyms are read letter by letter: "an MP4 video", "an HEIC photo", "a PNG image".
    first_word = label.split()[0]
    vowel_sound = label[0] in "AEIOUaeiou" or (first_word.isupper() and label[0] in "FHLMNRSX")
    return f"{'an' if vowel_sound else 'a'} {label}"
