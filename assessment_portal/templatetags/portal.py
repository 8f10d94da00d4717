from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def page_url(context, number, param="page"):
    """This page's URL with its filters kept and ``param`` (``page``) set to ``number``."""
    query = context["request"].GET.copy()
    query[param] = number
    return f"?{query.urlencode()}"
