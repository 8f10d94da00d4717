"""Query helpers shared by the apps' list pages."""

from django.db.models import F, Func, IntegerField, Subquery
from django.db.models.functions import Coalesce


def count_of(queryset, *, distinct=False):
    """How many rows ``queryset`` (filtered by ``OuterRef``) has, as an annotation.

    A correlated subquery, unlike ``Count`` over joins: it neither multiplies the
    rows of the other joins nor groups the whole table before a page is cut.
    ``distinct`` counts each row of ``queryset``'s model once across its joins.
    """
    extra = {"template": "%(function)s(DISTINCT %(expressions)s)"} if distinct else {}
    count = Func(F("pk"), function="COUNT", **extra)
    counted = queryset.order_by().annotate(n=count).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
