"""Drive the sandboxes' shopper pages the way a phone browser would: read a page's form, fill it in,
post it, and follow the redirect back into our app (served by Django's test client)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1].fields[values["name"]] = values.get("value", "")


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def open_page(url: str) -> tuple[httpx.Response, Form]:
    """GET a sandbox page and return it with its (first) form, whose action is made absolute."""
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200, page.text
    found = forms_of(page.text)
    assert found, page.text
    form = found[0]
    form.action = urljoin(url, form.action or url)
    return page, form


def submit(form: Form, **values: str) -> httpx.Response:
    return httpx.post(form.action, data={**form.fields, **values}, timeout=10, follow_redirects=False)


def local_path(url: str) -> str:
    """The path and query of a URL that points back at our app (http://testserver/...)."""
    parts = urlsplit(url)
    assert parts.netloc == "testserver", url
    return parts.path + (f"?{parts.query}" if parts.query else "")
