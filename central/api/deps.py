"""Request dependencies: the database session, the operator behind a token and the roles a route allows, the edge
behind an edge token."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.errors import ApiError
from central.core.config import Settings
from central.core.db import utcnow
from central.core.revocation import RevocationList
from central.core.security import Role, token_digest
from central.core.tls import certificate_mismatch, request_certificate
from central.core.windows import RequestRate
from central.metrics import CentralMetrics
from central.models import Edge, User, UserSession

_LOGGER = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="an operator's session token (from /api/v1/auth/login)")
_edge_bearer = HTTPBearer(auto_error=False, scheme_name="EdgeToken", description="an edge's token")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_metrics(request: Request) -> CentralMetrics:
    metrics: CentralMetrics = request.app.state.metrics
    return metrics


SessionDep = Annotated[Session, Depends(get_session)]


def driver_rates(settings: Settings) -> dict[str, RequestRate]:
    """The request limits of the endpoints a driver's phone or a payment provider reaches without an account."""
    return {"pay_page": RequestRate(settings.pay_page_requests_per_minute, 60.0),
            "notify": RequestRate(settings.payment_notifications_per_minute, 60.0)}  # fmt: skip


def rate_limited(kind: str) -> Any:
    """A dependency refusing a source address past ``kind``'s limit with 429 and ``Retry-After``."""

    def check(request: Request) -> None:
        rates: dict[str, RequestRate] = request.app.state.driver_rates
        address = request.client.host if request.client is not None else "?"
        key = f"{address} {request.path_params.get('provider', '')}"
        if (wait := rates[kind].admit(key)) > 0:
            request.app.state.metrics.rate_limited.labels(kind).inc()
            raise ApiError(429, "rate_limited", f"too many requests from {address}; try again in {math.ceil(wait)} s",
                           headers={"Retry-After": str(math.ceil(wait))})  # fmt: skip

    return Depends(check)


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[CentralMetrics, Depends(get_metrics)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
EdgeCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_edge_bearer)]


def current_user(session: SessionDep, credentials: Credentials) -> User:
    if credentials is None:
        raise ApiError(401, "auth.missing_token", "log in and send the token as 'Authorization: Bearer <token>'")
    row = session.execute(
        select(User, UserSession.expires_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == token_digest(credentials.credentials))
    ).one_or_none()
    if row is None:
        raise ApiError(401, "auth.invalid_token", "the token is not a valid session")
    user, expires_at = row
    if expires_at <= utcnow():
        raise ApiError(401, "auth.expired_token", "the session has expired: log in again")
    if not user.active:
        raise ApiError(401, "auth.user_disabled", "the user is disabled")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def allow(*roles: Role) -> Any:
    """A dependency that answers the current user when their role is one of ``roles``, else 403."""
    allowed = frozenset(roles)

    def check_role(user: CurrentUser) -> User:
        if Role(user.role) not in allowed:
            raise ApiError(403, "auth.forbidden", f"role {user.role!r} may not do this", {"allowed": sorted(allowed)})
        return user

    check_role.roles = tuple(sorted(allowed))  # type: ignore[attr-defined]
    return Depends(check_role)


def route_roles(call: Callable[..., Any]) -> tuple[str, ...] | None:
    roles: tuple[str, ...] | None = getattr(call, "roles", None)
    return roles


def current_edge(request: Request, session: SessionDep, credentials: EdgeCredentials) -> Edge:
    """The edge behind the token; where central requires edges' client certificates (a client CA, or
    ``edge_client_certificates``), also the one behind the TLS client certificate, and that certificate not in the
    client CA's revocation list as the file holds it now, else 403."""
    metrics: CentralMetrics = request.app.state.metrics
    if credentials is None:
        metrics.edge_auth_refused.labels("auth.missing_token").inc()
        raise ApiError(401, "auth.missing_token", "send the edge token as 'Authorization: Bearer <token>'")
    edge = session.scalars(select(Edge).where(Edge.token_hash == token_digest(credentials.credentials))).first()
    if edge is None or edge.revoked_at is not None:
        metrics.edge_auth_refused.labels("auth.invalid_edge_token").inc()
        raise ApiError(401, "auth.invalid_edge_token", "the token is not a valid edge token (revoked or unknown)")
    peer = request_certificate(request.scope)
    settings: Settings = request.app.state.settings
    if peer is None:
        if settings.edge_client_certificates or settings.tls_client_ca_file:
            _refuse_certificate(request, edge, "auth.certificate_missing",
                                f"edge {edge.id!r} must present its client certificate: this listener does not take "
                                "one, use the edges' listener", None)  # fmt: skip
        return edge
    revocations: RevocationList | None = request.app.state.revocations
    if revocations is not None and (revoked := revocations.revocation(peer)) is not None:
        _refuse_certificate(request, edge, "auth.certificate_revoked",
                            f"the client certificate {peer.label} (serial {revoked.serial_hex}) was revoked at "
                            f"{revoked.revoked_at.isoformat()} by the client CA's revocation list", peer.sha256,
                            {"serial": revoked.serial_hex, "revoked_at": revoked.revoked_at.isoformat()})  # fmt: skip
    problem = certificate_mismatch(edge.id, edge.cert_sha256, peer)
    if problem is not None:
        _refuse_certificate(request, edge, "auth.certificate_mismatch", problem, peer.sha256)
    return edge


def _refuse_certificate(
    request: Request, edge: Edge, code: str, message: str, sha256: str | None, more: dict[str, str] | None = None
) -> None:
    request.app.state.metrics.edge_auth_refused.labels(code).inc()
    address = request.client.host if request.client is not None else "?"
    _LOGGER.warning("%s: edge %s's token from %s refused: %s", code, edge.id, address, message)
    raise ApiError(403, code, message, {"edge": edge.id, "certificate_sha256": sha256, **(more or {})})


CurrentEdge = Annotated[Edge, Depends(current_edge)]

ALL_STAFF = tuple(Role)
