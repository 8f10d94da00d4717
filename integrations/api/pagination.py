from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination


class Paged(LimitOffsetPagination):
    """limit/offset pages with bounds: a page holds at most 500 rows and offsets stop at a
    million (read everything incrementally through the results feed instead)."""

    class Input(Schema):
        limit: int = Field(100, ge=1, le=500)
        offset: int = Field(0, ge=0, le=1_000_000)
