"""Query helpers shared by the apps' list pages."""

from django.core.paginator import Paginator
from django.db.models import Count, F, Func, IntegerField, Subquery, Window
from django.db.models.expressions import Star
from django.db.models.functions import Coalesce

# What a list prints of a person (User.__str__) and of a unit (Unit.display_code): read
# with only(), rows leave out the rest of the user and the unit's pages of text.
NAME_FIELDS = ("first_name", "last_name", "username")
UNIT_CODE_FIELDS = ("framework", "code")


def fields_of(path, names):
    """``names`` of the object at the relation ``path``, as only() takes them."""
    return [f"{path}__{name}" for name in names]


def count_of(queryset, *, distinct=False):
    """How many rows ``queryset`` (filtered by ``OuterRef``) has, as an annotation.

    A correlated subquery, unlike ``Count`` over joins: it neither multiplies the
    rows of the other joins nor groups the whole table before a page is cut.
    ``distinct`` counts each row of ``queryset``'s model once across its joins.
    Otherwise COUNT(*): needing no column, PostgreSQL counts from the index of the
    filter's column alone (a moderation round's ~1,500 members: 0.16 → 0.11 ms a round).
    """
    if distinct:
        count = Func(F("pk"), function="COUNT", template="%(function)s(DISTINCT %(expressions)s)")
    else:
        count = Func(Star(), function="COUNT", output_field=IntegerField())
    counted = queryset.order_by().annotate(n=count).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class CountedWithPagePaginator(Paginator):
    """Pages of a queryset whose filter is costly to run, such as an assessor's evidence:
    the total comes with the page's rows (``COUNT(*) OVER ()``) instead of from a second
    query running the same filter again."""

    def get_page(self, number):
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            wanted = 1  # as Paginator.get_page: no page, or not a number, is the first
        rows = []
        if wanted >= 1:
            bottom = (wanted - 1) * self.per_page
            counted = self.object_list.annotate(total_rows=Window(Count("pk")))
            rows = list(counted[bottom : bottom + self.per_page])
        if not rows:  # nothing, or past the end: the usual way, which counts first
            return super().get_page(number)
        self.count = rows[0].total_rows
        return self._get_page(rows, wanted, self)
