"""The console's languages: Chinese by default, English on request.

Every text a person reads is written in Chinese in the templates (``{{ _("成员") }}``,
``{% trans %}``) or marked with ``N_`` in the page modules; the English catalog
(``locales/en/LC_MESSAGES/messages.po``) translates each. The catalog is compiled in
memory when the console starts (Babel), so no compiled ``.mo`` file is kept in the
repository or made by a build step. tests/console/test_console_i18n.py fails when a
template holds text outside the catalog's calls or a message is missing in English.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from importlib.resources import files

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, PackageLoader, select_autoescape

from claims.messages import Message
from claims.remittance import ITEM_STATUS
from service.report_labels import CATEGORIES, SOURCES, Label

LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"
CATALOG = files("api.console") / "locales" / "en" / "LC_MESSAGES" / "messages.po"


def N_(message: str) -> str:
    """Mark a text for the catalog where it is defined (a nav label); it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()  # the templates are written in Chinese
    with CATALOG.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def environment(locale: str) -> Environment:
    """The templates in one language (one Jinja environment per language: its gettext is installed once)."""
    env = Environment(loader=PackageLoader("api.console", "templates"), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    # A payment item's status reads as on the member's printed advice: one catalog for both (claims.remittance).
    env.globals["item_status_text"] = lambda status: _said(ITEM_STATUS.get(status), locale) or status
    # A fund's and a hardship category's names as the federation report gives them (service.report_labels).
    env.globals["fund_source_text"] = lambda source: _said(SOURCES.get(source), locale) or source
    env.globals["category_text"] = lambda category: (_said(CATEGORIES.get(category), locale) if category else None) or category
    return env


def _said(text: Message | Label | None, locale: str) -> str | None:
    return None if text is None else (text.zh if locale == "zh" else text.en)
