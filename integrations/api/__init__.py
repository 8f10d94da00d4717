"""The versioned JSON API for student management systems: /api/v1/.

OpenAPI 3.1 document at /api/v1/openapi.json, browsable docs at /api/v1/docs
(Swagger UI from django-ninja's packaged static files; no CDN).
"""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from ninja import NinjaAPI, Swagger

from .. import feed
from . import attempts, cohorts, enrolments, people, results, units
from .auth import RateLimited, TokenAuth, logged

api = NinjaAPI(
    title="Assessment Portal API",
    version="1",
    description=(
        "Results, enrolments and units for student management systems. Authenticate with "
        "`Authorization: Bearer <token>`; administrators create tokens under "
        "Administration → API tokens. Anything outside the token's reach answers 404."
    ),
    auth=TokenAuth(),
    urls_namespace="api-v1",
    docs=Swagger(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/units", units.router)
api.add_router("/people", people.router)
api.add_router("/cohorts", cohorts.router)
api.add_router("/enrolments", enrolments.router)
api.add_router("/attempts", attempts.router)
api.add_router("/results", results.router)


@api.exception_handler(ValidationError)
def validation_error(request, error):
    return api.create_response(request, {"detail": " ".join(error.messages)}, status=400)


@api.exception_handler(feed.BadCursor)
def bad_cursor(request, error):
    return api.create_response(request, {"detail": str(error)}, status=400)


@api.exception_handler(PermissionDenied)
def permission_denied(request, error):
    return api.create_response(
        request, {"detail": str(error) or "This token may not do that."}, status=403
    )


@api.exception_handler(RateLimited)
def rate_limited(request, error):
    response = api.create_response(
        request, {"detail": "Too many requests for this token; wait and retry."}, status=429
    )
    response["Retry-After"] = str(error.retry_after)
    return response


def url_patterns():
    """The API's URL patterns: open to tokens (not sessions) and every call logged."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = login_not_required(logged(pattern.callback))
    return patterns, app_name, namespace
