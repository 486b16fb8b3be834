"""Rendering the office console's pages: one Jinja2 environment per language (gettext installed through
``jinja2.ext.i18n``, so a request never changes another's language), the money and time filters, and the
responses routes return: a page or a redirect."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from central.office.catalogues import (
    LANGUAGE_COOKIE,
    available_locales,
    choose_locale,
    compile_catalogue,
    language_name,
)
from central.office.labels import CATEGORY_LABELS, LIST_LABELS, ROLE_LABELS, STATUS_LABELS
from central.renewal import OPERATOR_ZONE
from parking.money import format_amount, minor_digits

_LOGGER = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"


def money(minor: int | None, currency: str = "CNY", with_code: bool = True) -> str:
    """Integer minor units as grouped decimal text: ``money(123456, "CNY") == "1,234.56 CNY"``; empty for None."""
    if minor is None:
        return ""
    text = format_amount(minor, currency)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = digits.partition(".")
    grouped = f"{int(whole):,}" + (f".{frac}" if minor_digits(currency) else "")
    return f"{sign}{grouped} {currency}" if with_code else f"{sign}{grouped}"


def local_time(value: datetime | None, zone: tzinfo | None = None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An aware time shown in the car park's zone (the operator's zone when none is given); empty for None."""
    if value is None:
        return ""
    return value.astimezone(zone or OPERATOR_ZONE).strftime(pattern)


def local_date(value: datetime | None, zone: tzinfo | None = None) -> str:
    return local_time(value, zone, "%Y-%m-%d")


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(compile_catalogue(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = money
    env.filters["localtime"] = local_time
    env.filters["localdate"] = local_date
    env.globals["locale"] = locale
    env.globals["role_labels"] = ROLE_LABELS
    env.globals["status_labels"] = STATUS_LABELS
    env.globals["list_labels"] = LIST_LABELS
    env.globals["category_labels"] = CATEGORY_LABELS
    env.globals["html_lang"] = locale.replace("_", "-")
    return env


class Pages:
    """The templates in every language, loaded once."""

    def __init__(self) -> None:
        self.locales = available_locales()
        self.environments = {locale: _environment(locale) for locale in self.locales}
        self.languages = [(locale, language_name(locale)) for locale in self.locales]

    def render(self, request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        """The page ``template`` in the request's language, with what every page needs (operator, navigation)."""
        state = request.state
        locale = getattr(state, "office_locale", None) or choose_locale(
            request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"), self.locales
        )
        env = self.environments[locale]
        full = {
            "request": request, "operator": getattr(state, "office_operator", None),
            "navigation": getattr(state, "office_navigation", []), "csrf_token": getattr(state, "office_csrf", ""),
            "languages": self.languages, "here": _here(request), **context,
        }  # fmt: skip
        response = HTMLResponse(env.get_template(template).render(full), status_code=status)
        response.headers["Cache-Control"] = "no-store"  # pages name people and money: never from a cache
        return response


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def redirect(path: str, **query: str | int) -> RedirectResponse:
    """After a POST: 303 See Other to the page that shows the result (POST → redirect → GET)."""
    params = {key: value for key, value in query.items() if value not in ("", None)}
    return RedirectResponse(path + (f"?{urlencode(params)}" if params else ""), status_code=303)
