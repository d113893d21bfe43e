from __future__ import annotations

from django import template
from django.forms import BoundField

register = template.Library()


@register.simple_tag
def described_field(field: BoundField, *, autofocus: bool = False):
    """The field's widget, tied to its hint and its error message for screen
    readers, and marked invalid when it has errors."""
    ids = [f"{field.auto_id}_error"]
    if field.help_text:
        ids.insert(0, f"{field.auto_id}_helptext")
    attrs: dict[str, str | bool] = {"aria-describedby": " ".join(ids)}
    if field.errors:
        attrs["aria-invalid"] = "true"
    if autofocus:
        attrs["autofocus"] = True
    return field.as_widget(attrs=attrs)


@register.filter
def bound(form, name: str) -> BoundField:
    """`form|bound:name`: the form's field of that name."""
    return form[name]


@register.filter
def item(mapping: dict, key: str):
    """`mapping|item:key`: the value under `key`, or None."""
    return mapping.get(key)
