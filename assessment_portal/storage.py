"""Where evidence files and report exports are kept, and how they are sent to a browser.

The portal reads and writes stored files only through Django's Storage API
(``default_storage``, a FileField's ``storage``), so the same code runs on local
disk (FileSystemStorage, the default) and on an S3-compatible bucket
(``STORAGE_BACKEND=s3``, ``PrivateS3Storage`` below). No stored file has a URL a
browser could use: every download goes through an access-checked view that
streams it with ``stored_file_response``.
"""

from botocore.exceptions import ClientError
from django.core.files import File
from django.http import FileResponse
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
        key = self._normalize_name(clean_name(name))
        try:
            response = self.bucket.Object(key).get()
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


def stored_file_response(field_file, *, filename, content_type, as_attachment=True):
    """A response that streams a stored file, privately, named ``filename``.

    A download unless ``as_attachment`` is false (media the evidence panel plays
    inline, under its own sandboxing headers). The file is read from its storage
    a chunk at a time, so neither a large file nor many downloads at once are
    held in memory.
    """
    stored = field_file.storage.open(field_file.name, "rb")
    response = FileResponse(
        stored, as_attachment=as_attachment, filename=filename, content_type=content_type
    )
    response.block_size = DOWNLOAD_CHUNK_BYTES
    # A stream from object storage cannot be measured by seeking, so say the size.
    response["Content-Length"] = stored.size
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
