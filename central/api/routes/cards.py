"""Access cards (门禁卡): access groups, issue, report lost, revoke, replace; the deposit is recorded on the card.

A card that stops (lost, revoked, replaced) is published with its new status, so every edge refuses it at its next
sync; ``/cards/{id}/refusals`` lists where it was presented since (the front desk's "lost card presented at lane X").
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import Field, model_validator
from sqlalchemy import select

from central.api.deps import ALL_STAFF, SessionDep, allow
from central.api.errors import conflict, not_found
from central.api.fields import (
    CardNumber,
    Currency,
    Limit,
    MinorUnits,
    Name,
    Offset,
    RecordKey,
    RequestModel,
    ResponseModel,
    RowId,
    Slug,
    When,
)  # fmt: skip
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.card_refusals import CardRefusal, card_refusals
from central.core.security import Role
from central.issuing import issue_card, replace_card, stop_card
from central.models import AccessCard, AccessGroup, User
from central.publication import publish_card
from parking.wire import CardStatus

router = APIRouter(prefix=API_PREFIX, tags=["cards"])
Readers = allow(*ALL_STAFF)
Issuers = allow(Role.ADMIN, Role.FRONT_DESK)
Admin = allow(Role.ADMIN)


class GroupIn(RequestModel):
    name: Name
    lanes: list[Slug] = Field(default_factory=list, max_length=200, description="empty: every lane")
    car_parks: list[Slug] = Field(default_factory=list, max_length=50, description="empty: every car park")


class GroupOut(ResponseModel):
    id: int
    name: str
    lanes: list[str]
    car_parks: list[str]


class CardIn(RequestModel):
    facility: int | None = Field(default=None, ge=0, le=65535, description="Wiegand facility code")
    card: int | None = Field(default=None, ge=0, le=2**40, description="card number within the facility")
    raw: CardNumber | None = Field(default=None, description="the number as the reader reports it (no facility)")
    holder_id: int = Field(ge=1, le=2_147_483_647)
    groups: list[int] = Field(default_factory=list, max_length=20, description="access group ids; none: every lane")
    valid_from: When | None = None
    valid_to: When | None = None
    deposit_minor: MinorUnits = 0
    deposit_currency: Currency = "CNY"

    @model_validator(mode="after")
    def _one_number(self) -> CardIn:
        if (self.raw is None) == (self.facility is None or self.card is None):
            raise ValueError("give either facility and card, or raw")
        return self

    def number(self) -> str:
        return f"{self.facility}:{self.card}" if self.raw is None else self.raw


class Replacement(RequestModel):
    facility: int | None = Field(default=None, ge=0, le=65535)
    card: int | None = Field(default=None, ge=0, le=2**40)
    raw: CardNumber | None = None
    deposit_minor: MinorUnits | None = Field(default=None, description="the new card's deposit; default: carried over")

    @model_validator(mode="after")
    def _one_number(self) -> Replacement:
        if (self.raw is None) == (self.facility is None or self.card is None):
            raise ValueError("give either facility and card, or raw")
        return self

    def number(self) -> str:
        return f"{self.facility}:{self.card}" if self.raw is None else self.raw


class CardOut(ResponseModel):
    id: str
    number: str
    holder_id: int
    groups: list[int]
    valid_from: datetime
    valid_to: datetime | None
    status: str
    deposit_minor: int
    deposit_currency: str
    replaced_by: str | None
    created_at: datetime


@router.get("/access-groups", response_model=list[GroupOut], summary="List access groups")
def list_groups(session: SessionDep, _user: User = Readers) -> list[AccessGroup]:
    return list(session.scalars(select(AccessGroup).order_by(AccessGroup.id)))


@router.post("/access-groups", response_model=GroupOut, status_code=201, summary="Create an access group")
def create_group(body: GroupIn, session: SessionDep, user: User = Admin) -> AccessGroup:
    if session.scalars(select(AccessGroup).where(AccessGroup.name == body.name)).first() is not None:
        raise conflict("access_group.exists", f"access group {body.name!r} exists")
    group = AccessGroup(name=body.name, lanes=sorted(set(body.lanes)), car_parks=sorted(set(body.car_parks)))
    session.add(group)
    session.flush()
    record_change(session, user, "access_group.create", "access_group", group.id, None, snapshot(group))
    session.commit()
    return group


@router.put("/access-groups/{group_id}", response_model=GroupOut, summary="Change a group's lanes (cards resync)")
def change_group(group_id: RowId, body: GroupIn, session: SessionDep, user: User = Admin) -> AccessGroup:
    group = session.get(AccessGroup, group_id)
    if group is None:
        raise not_found("access_group", group_id)
    before = snapshot(group)
    group.name, group.lanes, group.car_parks = body.name, sorted(set(body.lanes)), sorted(set(body.car_parks))
    session.flush()
    for card in session.scalars(select(AccessCard).where(AccessCard.status == CardStatus.ACTIVE.value)):
        if group.id in card.groups:
            publish_card(session, card)
    record_change(session, user, "access_group.change", "access_group", group.id, before, snapshot(group))
    session.commit()
    return group


@router.get("/cards", response_model=list[CardOut], summary="List cards, by number, holder or status")
def list_cards(
    session: SessionDep,
    number: str | None = Query(default=None, max_length=64),
    holder_id: int | None = Query(default=None, ge=1, le=2_147_483_647),
    status: CardStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[AccessCard]:
    query = select(AccessCard).order_by(AccessCard.created_at, AccessCard.id).limit(limit).offset(offset)
    if number is not None:
        query = query.where(AccessCard.number == number.replace("\x00", ""))
    if holder_id is not None:
        query = query.where(AccessCard.holder_id == holder_id)
    if status is not None:
        query = query.where(AccessCard.status == status.value)
    return list(session.scalars(query))


class RefusalOut(ResponseModel):
    at: datetime
    car_park: str
    lane: str | None
    card: str
    status: str = Field(description="the card's state as the edge's lists had it: lost, revoked, replaced")
    at_exit: bool = Field(description="true: seen at an exit (the vehicle left paying); false: refused at an entry")
    record: str = Field(description="the edge's journal record")


@router.get("/cards/{card_id}/refusals", response_model=list[RefusalOut],
            summary="Where the lanes refused this stopped card (lost, revoked, replaced), newest first")  # fmt: skip
def refusals(card_id: RecordKey, session: SessionDep, _user: User = Readers) -> list[CardRefusal]:
    if session.get(AccessCard, card_id) is None:
        raise not_found("card", card_id)
    return card_refusals(session, [card_id])


@router.post("/cards", response_model=CardOut, status_code=201, summary="Issue a card to a holder")
def issue(body: CardIn, session: SessionDep, user: User = Issuers) -> AccessCard:
    card = issue_card(session, user, holder_id=body.holder_id, number=body.number(), groups=body.groups,
                      valid_from=body.valid_from, valid_to=body.valid_to, deposit_minor=body.deposit_minor,
                      deposit_currency=body.deposit_currency)  # fmt: skip
    session.commit()
    return card


@router.post("/cards/{card_id}/lost", response_model=CardOut, summary="Report a card lost (edges refuse it)")
def report_lost(card_id: RecordKey, session: SessionDep, user: User = Issuers) -> AccessCard:
    card = stop_card(session, user, card_id, CardStatus.LOST)
    session.commit()
    return card


@router.post("/cards/{card_id}/revoke", response_model=CardOut, summary="Revoke a card (edges refuse it)")
def revoke_card(card_id: RecordKey, session: SessionDep, user: User = Issuers) -> AccessCard:
    card = stop_card(session, user, card_id, CardStatus.REVOKED)
    session.commit()
    return card


@router.post("/cards/{card_id}/replace", response_model=CardOut, status_code=201, summary="Replace a card")
def replace(card_id: RecordKey, body: Replacement, session: SessionDep, user: User = Issuers) -> AccessCard:
    """The old card stops everywhere at the next sync; the new one has the same holder, groups and validity."""
    new = replace_card(session, user, card_id, body.number(), body.deposit_minor)
    session.commit()
    return new
