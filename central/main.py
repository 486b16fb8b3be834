"""The central service's FastAPI application: ``create_app()`` builds one from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from central.api.body_limits import JsonBodyLimit
from central.api.deps import route_roles
from central.api.errors import ERROR_RESPONSES, install_error_handlers
from central.api.routes import (
    audit,
    auth,
    bags,
    billing,
    billing_debit,
    billing_drawer,
    billing_reports,
    cards,
    edge_images,
    holders,
    journal,
    metrics,
    passes,
    payments,
    plans,
    plates,
    reconciliation,
    registry,
    reminders,
    remote_vends,
    sync,
    tariffs,
    users,
    vehicles,
)
from central.core.config import Settings
from central.core.db import make_engine, make_session_factory
from central.core.revocation import RevocationList
from central.core.security import Role, hash_password
from central.metrics import CentralMetrics, RequestTimer
from central.models import User
from central.office import install_office
from central.payments.registry import configured_providers
from central.paypage import install_pay_pages
from parking.tls import CrlRefusedError

_LOGGER = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """An app bound to the database of ``settings`` (from the environment when omitted); it does not migrate."""
    settings = settings or Settings()
    engine = make_engine(settings.sqlalchemy_url, pool_size=settings.db_pool_size)
    sessions = make_session_factory(engine)
    revocations = client_revocation_list(settings)
    central_metrics = CentralMetrics(sessions, revocations)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.bootstrap_admin_password:
            bootstrap_admin(sessions, settings.bootstrap_admin_password)
        yield
        engine.dispose()

    app = FastAPI(
        title="ParkGate central",
        version="1.0.0",
        description="Monthly passes, access cards, vehicle lists, edge registry, sync and ingest for ParkGate edges.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.metrics = central_metrics
    app.state.revocations = revocations
    app.state.payment_providers = configured_providers(settings)
    install_error_handlers(app)
    for module in (auth, users, registry, holders, plans, reminders, passes, cards, vehicles, tariffs, sync,
                   journal, audit, reconciliation, bags, edge_images, plates,
                   billing, billing_drawer, billing_debit, billing_reports, payments, remote_vends):  # fmt: skip
        _document_roles(module.router)
        app.include_router(module.router)
    app.include_router(metrics.router)
    install_office(app, settings)
    install_pay_pages(app)
    app.add_middleware(JsonBodyLimit)
    app.add_middleware(RequestTimer, metrics=central_metrics)
    return app


def client_revocation_list(settings: Settings) -> RevocationList | None:
    """The client CA's revocation list the edges' certificates are checked against on every request, ``None``
    without one; raises ``ValueError`` naming the setting when it cannot be used."""
    if settings.tls_client_crl_file is None:
        return None
    if settings.tls_client_ca_file is None:
        raise ValueError("PARKGATE_TLS_CLIENT_CRL_FILE: a revocation list needs the client CA it belongs to "
                         "(PARKGATE_TLS_CLIENT_CA_FILE)")  # fmt: skip
    try:
        return RevocationList(Path(settings.tls_client_crl_file), Path(settings.tls_client_ca_file))
    except CrlRefusedError as err:
        raise ValueError(f"PARKGATE_TLS_CLIENT_CRL_FILE: {settings.tls_client_crl_file!r} {err}") from None


def _document_roles(router: APIRouter) -> None:
    """Write each route's allowed roles into its OpenAPI operation (``x-roles``) and description."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        roles: tuple[str, ...] | None = None
        pending = list(route.dependant.dependencies)
        while pending and roles is None:
            dependency = pending.pop()
            roles = route_roles(dependency.call) if dependency.call is not None else None
            pending.extend(dependency.dependencies)
        extra: dict[str, Any] = dict(route.openapi_extra or {})
        if roles is not None:
            extra["x-roles"] = list(roles)
            if "Roles:" not in (route.description or ""):
                route.description = (route.description or "") + f"\n\nRoles: {', '.join(roles)}."
        elif "x-roles" not in extra:
            extra["x-roles"] = []
        route.openapi_extra = extra


def bootstrap_admin(sessions: Any, password: str) -> None:
    """The first user, ``admin``, on a database without users. Several processes may start on one empty database at
    once (``central run --workers N``, two centrals): the one whose insert loses the race finds the admin made."""
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return
        session.add(User(username="admin", full_name="Administrator", role=Role.ADMIN.value,
                         password_hash=hash_password(password)))  # fmt: skip
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            if session.scalar(select(func.count()).select_from(User).where(User.username == "admin")):
                _LOGGER.info("the first user 'admin' was created by another process starting on this database")
                return
            raise
        _LOGGER.info("created the first user 'admin' from PARKGATE_BOOTSTRAP_ADMIN_PASSWORD")
