"""Every text of the console goes through the catalog, and the English catalog has each message.

A template's own text (outside ``{{ _("...") }}`` and ``{% trans %}``) that a person
would read, in an element or in a title/placeholder/aria-label/alt attribute, fails
the first test; a message of a template or of a page module (``N_``) with no English
translation fails the second.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from api.console.i18n import CATALOG, environment, translations

ROOT = Path(str(files("api.console")))
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
READ = re.compile(r"[A-Za-z\u3400-\u9fff]")  # a letter or a Chinese character: text someone reads
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
HOLE = "\x00"  # where a Jinja tag or expression stood


def template_text(path: Path) -> str:
    """The template's literal text, each Jinja tag, expression or comment replaced by HOLE."""
    env = environment("zh")
    out = []
    for _line, kind, value in env.lex(path.read_text(encoding="utf-8")):
        out.append(value if kind == "data" else HOLE if kind in ("variable_begin", "block_begin", "comment_begin") else "")
    return "".join(out)


class _Untranslated(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self._skip += 1
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value and READ.search(value.replace(HOLE, "")):
                self.found.append(f'{name}="{value}"')

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        text = data.replace(HOLE, "").strip()
        if not self._skip and READ.search(text):
            self.found.append(text)


def untranslated(path: Path) -> list[str]:
    parser = _Untranslated()
    parser.feed(template_text(path))
    return parser.found


@pytest.mark.parametrize("template", TEMPLATES, ids=[str(t.relative_to(ROOT / "templates")) for t in TEMPLATES])
def test_a_template_holds_no_text_outside_the_catalog(template: Path) -> None:
    assert untranslated(template) == []


def test_the_check_finds_text_left_outside_the_catalog(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text('<h1>{{ _("成员") }}</h1><p>未翻译</p><input placeholder="Search"><code>MA_IP</code>', encoding="utf-8")
    assert untranslated(page) == ["未翻译", 'placeholder="Search"']


def messages() -> dict[str, str]:
    """Every msgid of the templates and of the page modules (``N_``), with where it is."""
    found: dict[str, str] = {}
    for path in TEMPLATES:
        for lineno, message, _comments, _context in extract_from_file(babel_extract, str(path),
                                                                      keywords={"_": None, "gettext": None}):
            found.setdefault(message, f"{path.name}:{lineno}")
    for path in sorted(ROOT.rglob("*.py")):
        for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords={"N_": None}):
            found.setdefault(message, f"{path.name}:{lineno}")
    return found


def test_every_message_has_its_english_translation() -> None:
    with CATALOG.open("rb") as po:
        catalog = read_po(po, locale="en")
    english = {m.id: m.string for m in catalog if m.id and not m.fuzzy}
    found = messages()
    assert len(found) > 150
    missing = {msgid: where for msgid, where in found.items() if not english.get(msgid)}
    assert missing == {}, "messages with no English translation in " + str(CATALOG)


def test_the_nav_labels_are_among_the_messages() -> None:
    from api.console.nav import NAV

    found = messages()
    assert all(label in found for items in NAV.values() for _path, label in items)


def test_english_pages_use_the_catalog() -> None:
    assert translations("en").gettext("登录") == "Sign in"
    assert translations("zh").gettext("登录") == "登录"
    html = environment("en").get_template("sign_in.html").render(csrf="t", csrf_field="csrf_token", nav=[], next="/console",
                                                                 request=_Request(), path="/console/sign-in", lang="en")
    assert "Sign in" in html and "登录" not in html


class _Request:
    query_params: dict[str, str] = {}


def test_a_payment_item_status_reads_as_on_the_printed_advice() -> None:
    from api.console.i18n import LOCALES, environment
    from claims.remittance import ITEM_STATUS

    macros = {lang: environment(lang).get_template("macros.html").module for lang in LOCALES}
    for status, said in ITEM_STATUS.items():
        assert str(macros["zh"].item_status(status)) == said.zh
        assert str(macros["en"].item_status(status)) == said.en
    assert str(macros["en"].item_status("unheard_of")) == "unheard_of"


def test_a_fund_and_a_hardship_category_read_by_the_names_the_federation_report_gives_them() -> None:
    from api.console.i18n import LOCALES, environment
    from service.report_labels import SOURCES

    macros = {lang: environment(lang).get_template("macros.html").module for lang in LOCALES}
    for source in ("mutual_aid", "central", "region", "league", "charity"):
        assert str(macros["zh"].fund_source(source)) == SOURCES[source].zh
        assert str(macros["en"].fund_source(source)) == SOURCES[source].en

    from claims.members import HardshipCategory
    from service.report_labels import CATEGORIES

    for category in HardshipCategory:
        assert str(macros["zh"].category(category.value)) == CATEGORIES[category.value].zh
        assert str(macros["en"].category(category.value)) == CATEGORIES[category.value].en
