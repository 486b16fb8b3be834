"""The driver's page: a phone page served by central, reached from the lane's static QR code
(``/pay/lane/{car_park}/{lane}``): the plate at that exit, its entry time, the fee with its breakdown and a pay
button per provider; then the order's page, which opens the provider's checkout and follows the payment.

Server-rendered (Jinja2, gettext catalogues zh-CN and English, language by the ``lang`` link or Accept-Language),
nothing from the internet, no sign-in: the lane names the vehicle, and the page shows only that vehicle.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from central.api.deps import SessionDep, SettingsDep, driver_rates, rate_limited
from central.core.db import utcnow
from central.models import CarPark, ExitQuote, PaymentOrder
from central.office.catalogues import choose_locale
from central.office.rendering import local_time, money
from central.payments.inside import SearchRefused, find_vehicle, quote_inside
from central.payments.orders import ORDER_LIFETIME, OrderError, lane_quote, place_order
from central.payments.providers import PaymentProvider, ProviderError

_LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LOCALES = ["zh_CN", "en"]
LANGUAGE_COOKIE = "parkgate_pay_lang"
# The phone's own browser pays in the provider's app: WeChat Pay's H5 and Alipay's wap checkout.
PHONE_CHANNELS = {"wechat": "h5", "alipay": "page"}
PROVIDER_NAMES = {"wechat": "WeChat Pay", "alipay": "Alipay"}
Key = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


def _translations(locale: str) -> Translations:
    with (HERE / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


def line_view(line: dict[str, Any]) -> tuple[str, int | None]:
    """A breakdown line as label and amount: the edge's own label, else the tariff engine's kind and band."""
    label = str(line.get("label") or " ".join(str(line[k]) for k in ("kind", "band", "cycle") if line.get(k)))
    amount = next((line[k] for k in ("amount", "charged", "amount_each") if isinstance(line.get(k), int)), None)
    return label[:80], amount


def _environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"], trim_blocks=True,
                      lstrip_blocks=True)  # fmt: skip
    env.install_gettext_translations(_translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = money
    env.filters["localtime"] = local_time
    env.filters["line_view"] = line_view
    env.globals |= {"locale": locale, "html_lang": locale.replace("_", "-"), "provider_names": PROVIDER_NAMES}
    return env


class PayPages:
    def __init__(self) -> None:
        self.environments = {locale: _environment(locale) for locale in LOCALES}

    def render(self, request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        locale = choose_locale(request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE),
                               request.headers.get("accept-language"), LOCALES)  # fmt: skip
        here = request.url.path
        page = self.environments[locale].get_template(template).render({"here": here, **context})
        response = HTMLResponse(page, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        if request.query_params.get("lang") in LOCALES:
            response.set_cookie(LANGUAGE_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True)
        return response


def install_pay_pages(app: FastAPI) -> None:
    """Serve the driver's pages at ``/pay/`` on ``app``."""
    pages = PayPages()
    app.state.driver_rates = driver_rates(app.state.settings)
    router = APIRouter(prefix="/pay", include_in_schema=False, dependencies=[rate_limited("pay_page")])

    def providers(request: Request) -> dict[str, PaymentProvider]:
        found: dict[str, PaymentProvider] = request.app.state.payment_providers
        return found

    @router.get("/lane/{car_park}/{lane}")
    def lane_page(car_park: Key, lane: Key, request: Request, session: SessionDep) -> Response:
        park = session.get(CarPark, car_park)
        if park is None:
            return pages.render(request, "pay_none.html", {"reason": "car_park"}, 404)
        quote = lane_quote(session, car_park, lane, utcnow())
        if quote is None:
            return pages.render(request, "pay_none.html", {"reason": "no_vehicle", "park": park})
        return pages.render(request, "pay_lane.html", {
            "park": park, "lane": lane, "quote": quote, "zone": ZoneInfo(park.timezone),
            "providers": sorted(providers(request)),
        })  # fmt: skip

    @router.post("/lane/{car_park}/{lane}")
    def lane_order(car_park: Key, lane: Key, provider: Annotated[str, Form(max_length=16)], request: Request,
                   session: SessionDep, settings: SettingsDep) -> Response:  # fmt: skip
        adapter = providers(request).get(provider)
        quote = lane_quote(session, car_park, lane, utcnow())
        if adapter is None or quote is None:
            return pages.render(request, "pay_none.html", {"reason": "no_vehicle", "park": None}, 404)
        try:
            order = place_order(session, quote, adapter, PHONE_CHANNELS.get(provider, "native"),
                                settings.payment_notify_base_url or "", utcnow(),
                                client_ip=request.client.host if request.client else None)  # fmt: skip
        except (OrderError, ProviderError) as err:
            session.rollback()
            _LOGGER.warning("driver's order at %s/%s refused: %s", car_park, lane, err)
            return pages.render(request, "pay_none.html", {"reason": "provider", "park": None}, 503)
        return RedirectResponse(f"/pay/order/{order.id}", status_code=303)

    @router.get("/order/{order_id}")
    def order_page(order_id: Annotated[str, PathParam(pattern=r"^PG[0-9A-F]{20,30}$")], request: Request,
                   session: SessionDep) -> Response:  # fmt: skip
        order = session.get(PaymentOrder, order_id)
        if order is None:
            return pages.render(request, "pay_none.html", {"reason": "no_order", "park": None}, 404)
        park = session.get(CarPark, order.car_park_id)
        zone = ZoneInfo(park.timezone if park else "Asia/Shanghai")
        return pages.render(request, "pay_order.html", {"order": order, "zone": zone})

    @router.get("/{car_park}")
    def inside_page(car_park: Key, request: Request, session: SessionDep,
                    plate: Annotated[str, Query(max_length=16)] = "",
                    entered_from: Annotated[str, Query(max_length=16)] = "",
                    entered_to: Annotated[str, Query(max_length=16)] = "") -> Response:  # fmt: skip
        """Paying inside: part of the plate and a window of the entry time find one vehicle (never a list)."""
        park = session.get(CarPark, car_park)
        if park is None:
            return pages.render(request, "pay_none.html", {"reason": "car_park"}, 404)
        zone = ZoneInfo(park.timezone)
        context: dict[str, Any] = {"park": park, "plate": plate, "entered_from": entered_from,
                                   "entered_to": entered_to, "refused": None}  # fmt: skip
        if not plate:
            return pages.render(request, "pay_search.html", context)
        try:
            start = datetime.fromisoformat(entered_from).replace(tzinfo=zone)
            end = datetime.fromisoformat(entered_to).replace(tzinfo=zone)
            quote = quote_inside(session, car_park, find_vehicle(session, car_park, plate, start, end), utcnow())
        except ValueError:
            context["refused"] = "window"
            return pages.render(request, "pay_search.html", context, 422)
        except SearchRefused as refused:
            context["refused"] = refused.reason
            return pages.render(request, "pay_search.html", context, 200 if refused.reason == "none" else 422)
        return pages.render(request, "pay_lane.html", {
            "park": park, "lane": None, "quote": quote, "zone": zone, "providers": sorted(providers(request)),
            "action": f"/pay/{car_park}/quote/{quote.id}",
        })  # fmt: skip

    @router.post("/{car_park}/quote/{quote_id}")
    def inside_order(car_park: Key, quote_id: int, provider: Annotated[str, Form(max_length=16)], request: Request,
                     session: SessionDep, settings: SettingsDep) -> Response:  # fmt: skip
        adapter = providers(request).get(provider)
        quote = session.get(ExitQuote, quote_id)
        fresh = quote is not None and quote.car_park_id == car_park and quote.lane_id is None
        if adapter is None or quote is None or not fresh or utcnow() - quote.received_at > ORDER_LIFETIME:
            return pages.render(request, "pay_none.html", {"reason": "no_vehicle", "park": None}, 404)
        try:
            order = place_order(session, quote, adapter, PHONE_CHANNELS.get(provider, "native"),
                                settings.payment_notify_base_url or "", utcnow(),
                                client_ip=request.client.host if request.client else None)  # fmt: skip
        except (OrderError, ProviderError) as err:
            session.rollback()
            _LOGGER.warning("driver's order inside %s refused: %s", car_park, err)
            return pages.render(request, "pay_none.html", {"reason": "provider", "park": None}, 503)
        return RedirectResponse(f"/pay/order/{order.id}", status_code=303)

    app.include_router(router)
    app.mount("/pay/static", StaticFiles(directory=HERE / "static"), name="pay-static")
