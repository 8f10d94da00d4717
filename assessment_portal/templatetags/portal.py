from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def page_url(context, number, param="page"):
    """This page's URL with its filters kept and ``param`` (``page``) set to ``number``."""
    query = context["request"].GET.copy()
    query[param] = number
    return f"?{query.urlencode()}"


@register.simple_tag(takes_context=True)
def newest_first_url(context, direction, cursor):
    """This page's URL with its filters kept, showing the page ``direction`` ("newer" or
    "older") of ``cursor`` (queries.newest_first_page)."""
    query = context["request"].GET.copy()
    for param in ("newer", "older"):
        query.pop(param, None)
    query[direction] = cursor
    return f"?{query.urlencode()}"
