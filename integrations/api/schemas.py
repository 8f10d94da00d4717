"""Schemas shared by the API's routers."""

from typing import Annotated, Any

from ninja import Path, Schema
from pydantic import Field, StringConstraints

# Text from clients: no NUL characters (PostgreSQL cannot store them), trimmed.
Text = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^\x00]*$")]
RequiredText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[^\x00]*$")
]

# Database ids are 64-bit; larger numbers would overflow the query, not just miss.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def IdPath():  # noqa: N802  (reads like the Path(...) it returns)
    return Path(..., ge=1, le=MAX_ID)


class Error(Schema):
    detail: str | list[dict[str, Any]]


# Every operation may answer these besides its own success code.
ERRORS = {400: Error, 401: Error, 403: Error, 404: Error, 422: Error, 429: Error}


def responses(status, schema):
    return {status: schema, **ERRORS}
