"""Every user-visible string has a Chinese translation, and the committed .mo matches its .po."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "openvend"
CATALOGS = [ROOT / "locale/zh_Hans/LC_MESSAGES", ROOT / "consoles/locale/zh_Hans/LC_MESSAGES"]
ENTRY = re.compile(
    r'(?P<flags>#,[^\n]*\n)?(?:#\|[^\n]*\n)*(?:msgctxt (?P<ctx>"(?:[^"\\]|\\.)*"(?:\n"(?:[^"\\]|\\.)*")*)\n)?'
    r'msgid (?P<id>"(?:[^"\\]|\\.)*"(?:\n"(?:[^"\\]|\\.)*")*)\n'
    r'(?:msgid_plural (?P<plural>"(?:[^"\\]|\\.)*"(?:\n"(?:[^"\\]|\\.)*")*)\n)?'
    r'(?P<strs>(?:msgstr(?:\[\d\])? "(?:[^"\\]|\\.)*"(?:\n"(?:[^"\\]|\\.)*")*\n?)+)'
)


def _join(quoted: str | None) -> str:
    if not quoted:
        return ""
    return "".join(ast.literal_eval(part) for part in quoted.split("\n"))


def _entries(po: Path) -> list[dict[str, object]]:
    entries = []
    for match in ENTRY.finditer(po.read_text(encoding="utf-8")):
        msgid = _join(match["id"])
        if not msgid:
            continue  # the header
        strs = [
            _join(part)
            for part in re.findall(
                r'msgstr(?:\[\d\])? ("(?:[^"\\]|\\.)*"(?:\n"(?:[^"\\]|\\.)*")*)', match["strs"]
            )
        ]
        entries.append(
            {
                "id": msgid,
                "ctx": _join(match["ctx"]) if match["ctx"] else None,
                "plural": match["plural"],
                "strs": strs,
                "fuzzy": bool(match["flags"] and "fuzzy" in match["flags"]),
            }
        )
    return entries


@pytest.mark.parametrize(
    "catalog", [c for c in CATALOGS if (c / "django.po").exists()], ids=lambda c: str(c.relative_to(ROOT))
)
def test_catalog_is_complete_and_compiled(catalog: Path) -> None:
    entries = _entries(catalog / "django.po")
    assert len(entries) > 20
    untranslated = [e["id"] for e in entries if not all(e["strs"]) or e["fuzzy"]]
    assert untranslated == []
    with (catalog / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in entries:
        msgid, ctx = str(entry["id"]), entry["ctx"]
        if entry["plural"]:
            got = compiled.ngettext(msgid, _join(str(entry["plural"])), 1)
        elif ctx:
            got = compiled.pgettext(str(ctx), msgid)
        else:
            got = compiled.gettext(msgid)
        if got != entry["strs"][0]:
            stale.append(msgid)
    assert stale == [], "django.mo is out of date: run make messages"
