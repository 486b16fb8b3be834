"""The office console's languages: one gettext catalogue per language in ``translations/<locale>/LC_MESSAGES``,
compiled from its ``.po`` file when the module is imported (no compiled file to keep in step), and the choice of
language for a request: the cookie set by the language links, else the browser's Accept-Language, else zh-CN.

A third language is one more ``messages.po``: it is found here, offered in the language links, and checked by the
catalogue test.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

_LOGGER = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DEFAULT_LOCALE = "zh_CN"
LANGUAGE_COOKIE = "parkgate_office_lang"


def catalogue_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def available_locales() -> list[str]:
    """Every locale with a catalogue, the default first."""
    found = sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    return sorted(found, key=lambda name: name != DEFAULT_LOCALE)


def compile_catalogue(locale: str) -> Translations:
    """The ``.po`` file of ``locale`` compiled in memory into gettext translations."""
    with catalogue_path(locale).open("rb") as source:
        catalogue = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def language_name(locale: str) -> str:
    """The language's own name for itself: 中文 (中国), English."""
    name: str = Locale.parse(locale).get_display_name(locale) or locale
    return name


def choose_locale(cookie: str | None, accept_language: str | None, locales: list[str]) -> str:
    """The cookie's locale when it is one we have, else the best of Accept-Language, else the default."""
    if cookie in locales:
        return cookie
    preferred = []
    for part in (accept_language or "").split(",")[:20]:
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        if tag and tag != "*":
            preferred.append((weight, tag.replace("-", "_")))
    ordered = [tag for _weight, tag in sorted(preferred, key=lambda item: -item[0])]
    aliases = {"zh": DEFAULT_LOCALE, "zh_Hans": DEFAULT_LOCALE, "zh_Hans_CN": DEFAULT_LOCALE}
    chosen = negotiate_locale(ordered, locales, sep="_", aliases=aliases)
    return chosen or DEFAULT_LOCALE
