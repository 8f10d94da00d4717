from django import template
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def outline(text):
    """Render stored outline text as nested lists.

    Units keep their lists as lines; a line starting "- " is an item of the
    list introduced by the line above it, as in the published evidence guide.
    """
    groups = []
    for line in text.splitlines():
        if line.startswith("- ") and groups:
            groups[-1][1].append(line[2:])
        elif line.strip():
            groups.append((line, []))
    html = ["<ul class='outline'>"]
    for head, items in groups:
        sublist = ""
        if items:
            sublist = "<ul>" + format_html_join("", "<li>{}</li>", ((i,) for i in items)) + "</ul>"
        html.append(format_html_join("", "<li>{}", [(head,)]) + sublist + "</li>")
    html.append("</ul>")
    return mark_safe("".join(html))  # noqa: S308 - every piece above is escaped
