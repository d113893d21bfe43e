"""Reading pages as people do: the visible text, and what a form would send."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser


class _FormFields(HTMLParser):
    def __init__(self, form_marker: str):
        super().__init__()
        self.marker = form_marker
        self.inside = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.marker in attrs:
            self.inside = True
        elif tag == "input" and self.inside and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind != "file":
                self.fields[attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(html: str, marker: str = "data-review") -> dict[str, str]:
    """The values a browser would send from the form carrying `marker`."""
    parser = _FormFields(marker)
    parser.feed(html)
    return parser.fields


def text_of(response) -> str:
    """The page's visible text, spaces collapsed, for asserting what people read."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join(unescape(text).split())


def error_of(response, field: str) -> str:
    """The message shown beside a form's field ("" for none)."""
    html = response.content.decode()
    found = re.search(rf'<p class="error" id="id_{field}_error">(.*?)</p>', html, re.S)
    return " ".join(found.group(1).split()) if found else ""


def summary_of(response) -> str:
    """The text of the error summary at the top of the form ("" for none)."""
    html = response.content.decode()
    found = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split()) if found else ""


def matched(pattern: str, html: str, group: int = 0, flags: int = 0) -> str:
    """The text `pattern` matches in `html` (or its `group`); fails the test,
    showing the pattern, when there is no match."""
    found = re.search(pattern, html, flags)
    assert found, f"nothing matches {pattern!r}"
    return found.group(group)
