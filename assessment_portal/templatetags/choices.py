"""Long runs of checkboxes and options, drawn in Python.

The marking page has ~170 checkboxes (a criterion's methods, range items and rules of
evidence), the evidence mapping page ~115 (criteria and range items): as template markup
they were more than half of each page's template variables. Joined here they cost ~0.6 ms
(marking) and ~1.5 ms (mapping) a page less at 10k candidates (issue 13); format_html per
box saved nothing, so each part is escaped explicitly instead, by the standard library's
html.escape (what Django's escape() calls, without its wrapping: 0.15 µs instead of 0.8, a
fifth of the checkboxes' cost). A select's options drawn by its widget's template cost
~2 ms a list of ~50 assessors; the moderation review's radio buttons drawn by template
markup ~1 ms.
"""

import html

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


def escape(value):
    return html.escape(str(value))


CHECKBOX = (
    '<div class="form-check{}"><input class="form-check-input{}" type="checkbox" name="{}" '
    'id="{}"{}{}{}><label class="form-check-label{}" for="{}">{}</label></div>'
)


def _checkboxes(options, *, div_class="", input_class="", label_class="", invalid=False):
    return "".join(
        CHECKBOX.format(
            div_class,
            input_class,
            escape(name),
            escape(input_id),
            "" if value is None else f' value="{escape(value)}"',
            " checked" if checked else "",
            ' aria-invalid="true"' if invalid else "",
            escape(label_class),
            escape(input_id),
            conditional_escape(label),
        )
        for name, input_id, value, label, checked in options
    )


@register.simple_tag
def inline_checkboxes(options, label_class=""):
    """Inline checkboxes, one for each of ``options``: ``(name, id, value, label, checked)``.
    A ``value`` of None leaves the attribute out (the box posts "on")."""
    label_class = f" {label_class}" if label_class else ""
    return mark_safe(  # noqa: S308 - every part is escaped
        _checkboxes(options, div_class=" form-check-inline", label_class=label_class)
    )


def _ticked(field):
    return {str(value) for value in field.value() or ()}


def _field_checkboxes(field, options, id_prefix, checked):
    """``options`` (value, label) of a multiple-choice form field as checkboxes, those in
    ``checked`` ticked, marked invalid with the field's errors."""
    return _checkboxes(
        (
            (field.html_name, f"{id_prefix}{index}", value, label, str(value) in checked)
            for index, (value, label) in enumerate(options)
        ),
        input_class=" is-invalid" if field.errors else "",
        invalid=bool(field.errors),
    )


@register.simple_tag
def field_checkboxes(field):
    """A multiple-choice form field's choices as checkboxes, one a line, with the ids
    Django's CheckboxSelectMultiple gives them."""
    return mark_safe(  # noqa: S308 - every part is escaped
        _field_checkboxes(field, field.field.choices, f"{field.auto_id}_", _ticked(field))
    )


RADIO = (
    '<div class="form-check"><input type="radio" class="form-check-input{}" name="{}" '
    'value="{}" id="{}" required{}><label for="{}" class="form-check-label">{}</label></div>'
)


@register.simple_tag
def field_radios(field):
    """A required single-choice form field's choices as radio buttons, one a line, with
    the ids Django's RadioSelect gives them (the moderation review has ~24)."""
    value = field.value()
    chosen = None if value is None else str(value)
    invalid = " is-invalid" if field.errors else ""
    name = escape(field.html_name)
    return mark_safe(  # noqa: S308 - every part is escaped
        "".join(
            RADIO.format(
                invalid,
                name,
                escape(option),
                escape(f"{field.auto_id}_{index}"),
                " checked" if str(option) == chosen else "",
                escape(f"{field.auto_id}_{index}"),
                conditional_escape(label),
            )
            for index, (option, label) in enumerate(field.field.choices)
        )
    )


@register.simple_tag
def grouped_checkboxes(field):
    """A multiple-choice form field's grouped choices as checkboxes, each group under its
    name in bold, with the ids Django's CheckboxSelectMultiple gives them."""
    checked = _ticked(field)
    return mark_safe(  # noqa: S308 - every part is escaped
        "".join(
            f"<strong>{conditional_escape(group)}</strong>"
            + _field_checkboxes(field, options, f"{field.auto_id}_{group_index}_", checked)
            for group_index, (group, options) in enumerate(field.field.choices)
        )
    )


@register.simple_tag
def select_options(field):
    """A single-choice form field's choices as ``<option>`` elements, the chosen one
    selected (the empty choice while none is)."""
    value = field.value()
    chosen = "" if value is None else str(value)
    return mark_safe(  # noqa: S308 - every part is escaped
        "".join(
            f'<option value="{escape(value)}"{" selected" if str(value) == chosen else ""}>'
            f"{conditional_escape(label)}</option>"
            for value, label in field.field.choices
        )
    )
