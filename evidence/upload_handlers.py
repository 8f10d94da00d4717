"""Stop oversized evidence files while they are still arriving.

Django normally writes every uploaded file to memory or a temporary file before a
view sees it, whatever its size. `MaxSizeUploadHandler` counts each file's bytes as
they stream in and drops a file as soon as it passes the limit
(settings.EVIDENCE_MAX_UPLOAD_BYTES), so at most the limit is ever stored. A request
whose Content-Length is already more than the limit (plus room for the form's other
fields) is refused before any of it is read.

A view installs the handler before anything reads request.POST or request.FILES.
CsrfViewMiddleware reads request.POST before the view runs, so the view is exempted
from it and the CSRF check is applied inside, once the handler is in place (Django
documentation, "Modifying upload handlers on the fly")::

    from django.views.decorators.csrf import csrf_exempt, csrf_protect

    from evidence.upload_handlers import MaxSizeUploadHandler, UploadTooLarge, max_upload_bytes
    from evidence.uploads import UploadRejected, check_upload, storage_name

    @csrf_exempt
    def upload_evidence(request):
        # First in the list: Django's memory handler stops later handlers seeing small files.
        request.upload_handlers.insert(0, MaxSizeUploadHandler(request))
        try:
            return _upload_evidence(request)
        except UploadTooLarge:
            # Nothing was read; request.POST and request.FILES must not be touched again.
            return render(
                request, "evidence/upload.html",
                {"rejections": request.upload_rejections}, status=413,
            )

    @csrf_protect
    def _upload_evidence(request):
        files = request.FILES.getlist("files")  # parsing the upload fills upload_rejections
        rejections = list(request.upload_rejections)
        for uploaded in files:
            try:
                checked = check_upload(uploaded, max_upload_bytes())
            except UploadRejected as rejected:
                rejections.append(rejected)
                continue
            ...  # save under storage_name(checked)
        ...  # show each rejected.message

For a class-based view, decorate dispatch() with method_decorator(csrf_exempt) and
the method that reads the files with method_decorator(csrf_protect).

After the upload is parsed, request.upload_rejections is a list of UploadRejected
(rule "too_large"), one for each file dropped; the dropped files are not in
request.FILES. The Content-Length check allows for one file at the limit; a view that
accepts several files per request passes MaxSizeUploadHandler(request, max_files=n).
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from .uploads import UploadRejected, clean_filename, format_size

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Room in a request, beyond the file itself, for the form's other fields and multipart headers.
REQUEST_OVERHEAD_BYTES = 1024 * 1024


def max_upload_bytes():
    """The largest evidence file accepted, in bytes."""
    return getattr(settings, "EVIDENCE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)


class UploadTooLarge(RequestDataTooBig):
    """The request is too big to hold an acceptable file; raised before any of it is read.

    As a RequestDataTooBig it becomes a 400 response if the view does not catch it.
    """


class MaxSizeUploadHandler(FileUploadHandler):
    """Drops each uploaded file that grows past max_upload_bytes(); see the module docstring."""

    def __init__(self, request, max_files=1):
        super().__init__(request)
        self.max_bytes = max_upload_bytes()
        # The limit is per file, so a request may carry up to max_files files at the limit.
        self.max_request_bytes = self.max_bytes * max_files + REQUEST_OVERHEAD_BYTES
        request.upload_rejections = []

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Content-Length is 0 when the client did not send one (chunked requests); then
        # only the per-file count in receive_data_chunk applies.
        if content_length > self.max_request_bytes:
            message = (
                f"Your upload is {format_size(content_length, round_up=True)}; "
                f"the limit is {format_size(self.max_bytes)}."
            )
            self.request.upload_rejections.append(UploadRejected(message, "too_large"))
            raise UploadTooLarge(message)

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) <= self.max_bytes:
            return raw_data
        name = clean_filename(self.file_name)
        subject = f"“{name}”" if name else "A file"
        self.request.upload_rejections.append(
            UploadRejected(
                f"{subject} is over the {format_size(self.max_bytes)} limit and was not uploaded.",
                "too_large",
            )
        )
        # SkipFile, not StopUpload: Django discards what later handlers stored of this file,
        # reads past the rest of it unstored, and still parses the other fields and files.
        raise SkipFile

    def file_complete(self, file_size):
        # Storing the file is left to the handlers after this one.
        return None
