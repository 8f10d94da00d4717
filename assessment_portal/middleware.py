"""Refuse NUL characters in a request's parameters, once for every view.

No field of the portal can hold a NUL: PostgreSQL refuses it in text (a 500 deep
inside a query) and it garbles exports. So a query parameter or form field
containing one is refused with 400 before any view or form sees it.
"""

from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponseBadRequest, JsonResponse
from django.views import defaults

NUL = "\x00"
MESSAGE = (
    "Bad request: a parameter or form field contains a NUL character (%00), which the "
    "portal does not accept anywhere. Remove it and send the request again."
)


class NulCharacterInRequest(SuspiciousOperation):
    """Django answers a SuspiciousOperation with 400 (``bad_request``) and logs it."""


def _has_nul(querydict):
    return any(
        NUL in key or any(NUL in value for value in values) for key, values in querydict.lists()
    )


def _check(querydict):
    if _has_nul(querydict):
        raise NulCharacterInRequest(MESSAGE)


class RefuseNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _check(request.GET)
        if request.content_type == "multipart/form-data":
            self._check_multipart_when_read(request)
        else:
            _check(request.POST)
        return self.get_response(request)

    @staticmethod
    def _check_multipart_when_read(request):
        """Check an upload's fields only when something reads them.

        Reading a multipart body here would run before the evidence views install their
        streaming size limit (evidence.upload_handlers), so the fields are checked as
        soon as the body has been parsed, by whoever parses it.
        """
        load = request._load_post_and_files

        def load_then_check():
            load()
            _check(request._post)

        request._load_post_and_files = load_then_check


def bad_request(request, exception):
    """The 400 page (``handler400``): says what was wrong when it was a NUL character."""
    if isinstance(exception, NulCharacterInRequest):
        # API clients get the API's own error shape (integrations/api).
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": MESSAGE}, status=400)
        return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
    return defaults.bad_request(request, exception)
