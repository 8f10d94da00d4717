"""Where evidence files and report exports are kept, and how they are sent to a browser.

The portal reads and writes stored files only through Django's Storage API
(``default_storage``, a FileField's ``storage``), so the same code runs on local
disk (FileSystemStorage, the default) and on an S3-compatible bucket
(``STORAGE_BACKEND=s3``, ``PrivateS3Storage`` below). No stored file has a URL a
browser could use: every download goes through an access-checked view that
streams it with ``stored_file_response``, which also answers a request for one
byte range of the file (HTTP Range), as browsers ask to play or seek in a video
or recording: Safari plays no video from a server that does not.
"""

import re

from botocore.exceptions import ClientError
from django.core.files import File
from django.http import FileResponse, HttpResponse
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# Bytes read from storage per chunk of a download: big enough that a large video
# is not sent in thousands of tiny writes, small enough to hold for every request.
DOWNLOAD_CHUNK_BYTES = 64 * 1024


class PrivateS3Storage(S3Storage):
    """django-storages' S3 backend, kept private and read as a stream.

    Objects are written with the private ACL under the server-made names the
    callers give, never replacing an existing object; ``url`` is refused so no
    public or presigned link can reach a page. Reading (mode ``rb``) streams the
    object's body as it is consumed, instead of S3Storage's default of fetching
    the whole object into memory first.
    """

    default_acl = "private"
    querystring_auth = True
    file_overwrite = False

    def _open(self, name, mode="rb"):
        if mode != "rb":
            return super()._open(name, mode)
        return self._stream(name)

    def open_range(self, name, start, end):
        """Bytes ``start`` to ``end`` (inclusive) of the object, fetched alone."""
        return self._stream(name, Range=f"bytes={start}-{end}")

    def _stream(self, name, **get):
        key = self._normalize_name(clean_name(name))
        try:
            response = self.bucket.Object(key).get(**get)
        except ClientError as error:
            if error.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from error
            raise
        stream = File(response["Body"], name=name)
        stream.size = response["ContentLength"]
        return stream

    def url(self, name, *args, **kwargs):
        raise NotImplementedError(
            "Stored files have no URL: send them with an access-checked view "
            "(assessment_portal.storage.stored_file_response)."
        )


# One range of bytes, the only kind browsers ask for to play or seek: "bytes=0-",
# "bytes=500-999", or the last 500 bytes, "bytes=-500".
ONE_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    pass


def requested_range(header, size):
    """The bytes (first, last) of a ``size``-byte file that a Range header asks for.

    None where the whole file is the answer: no header, or one this server does
    not take up (several ranges, another unit, a malformed one), which HTTP lets
    a server ignore. Raises RangeNotSatisfiable for a range wholly past the end.
    """
    match = ONE_BYTE_RANGE.fullmatch((header or "").replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # the last ``last`` bytes
        if int(last) == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - int(last), 0), size - 1
    if last and int(last) < int(first):
        return None
    if int(first) >= size:
        raise RangeNotSatisfiable
    return int(first), min(int(last), size - 1) if last else size - 1


class _Part:
    """``length`` bytes of an open stored file, from where it stands, read as
    FileResponse reads; closing it closes the file."""

    def __init__(self, stored, length):
        self.stored, self.remaining = stored, length

    def read(self, size=-1):
        size = self.remaining if size < 0 else min(size, self.remaining)
        chunk = self.stored.read(size) if size else b""
        self.remaining -= len(chunk)
        return chunk

    def close(self):
        self.stored.close()


def _open_part(field_file, first, last):
    storage = field_file.storage
    # Object storage is asked for the range alone; a file on disk is read from the first byte.
    if hasattr(storage, "open_range"):
        stored = storage.open_range(field_file.name, first, last)
    else:
        stored = storage.open(field_file.name, "rb")
        stored.seek(first)
    return _Part(stored, last - first + 1)


def stored_file_response(
    request, field_file, *, filename, content_type, as_attachment=True, etag=None
):
    """A response that streams a stored file, privately, named ``filename``.

    A download unless ``as_attachment`` is false (media the evidence panel plays
    inline, under its own sandboxing headers). The file is read from its storage
    a chunk at a time, so neither a large file nor many downloads at once are
    held in memory. A request for one byte range gets just those bytes (206);
    ``etag``, a strong validator of the content (its digest), lets a browser
    resume with If-Range; without it a resumed request gets the whole file.
    """
    wanted = request.headers.get("Range")
    if "If-Range" in request.headers and (
        etag is None or request.headers["If-Range"] != f'"{etag}"'
    ):
        wanted = None  # the browser holds another version: all of this one
    byte_range = None
    if wanted:
        size = field_file.size
        try:
            byte_range = requested_range(wanted, size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return _private(response, etag)
    if byte_range is None:
        stored = field_file.storage.open(field_file.name, "rb")
        length = stored.size
    else:
        stored = _open_part(field_file, *byte_range)
        length = byte_range[1] - byte_range[0] + 1
    response = FileResponse(
        stored, as_attachment=as_attachment, filename=filename, content_type=content_type
    )
    response.block_size = DOWNLOAD_CHUNK_BYTES
    # A stream from object storage cannot be measured by seeking, so say the size.
    response["Content-Length"] = length
    if byte_range is not None:
        response.status_code = 206
        response["Content-Range"] = f"bytes {byte_range[0]}-{byte_range[1]}/{size}"
    return _private(response, etag)


def _private(response, etag):
    response["Accept-Ranges"] = "bytes"
    if etag:
        response["ETag"] = f'"{etag}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
