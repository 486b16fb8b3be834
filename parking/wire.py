"""The edge <-> central wire contract, version 1: the only place edge and central meet.

Two flows, both over HTTP(S) with JSON bodies, the edge always the client (central never calls an edge):

* **Sync** (central -> edge): ``GET /api/v1/sync?since=<version>&limit=<n>`` with ``Authorization: Bearer <edge
  token>`` answers a :class:`SyncPage`. Every change to a list (passes, access cards, free/special/blacklist
  vehicles, tariffs) gets a new, strictly increasing version number at central. ``since=0``, or a ``since`` older
  than central keeps deletions for, answers a full snapshot (``full=true``: the edge replaces its lists with the
  pages it receives); otherwise the changes after ``since``. Pages are bounded by ``limit``; ``more=true`` says to
  ask again with ``since=page.version``. The edge applies each page in one local transaction, so a crash never
  leaves half a page applied.
* **Ingest** (edge -> central): ``POST /api/v1/ingest`` with an :class:`IngestBatch` answers an
  :class:`IngestAck`. Records are accepted once by id (idempotent: a retried batch stores nothing twice). Each
  edge's records form a hash chain (:func:`record_hash`): central verifies it and flags a break (a record deleted,
  altered or reordered at the edge) without refusing the records, so no evidence is lost.

Errors from either endpoint are an :class:`ErrorBody` with a stable machine-readable ``code``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

WIRE_VERSION = 1
GENESIS_HASH = "0" * 64
SYNC_PATH = "/api/v1/sync"
INGEST_PATH = "/api/v1/ingest"

RecordId = Annotated[str, Field(min_length=1, max_length=64)]
Plate = Annotated[str, Field(min_length=1, max_length=16)]

# Bounds of an ingested journal record (central quarantines a record outside them, see ``JournalRecord``).
SEQ_MAX = 2**63 - 1  # a PostgreSQL bigint
RECORD_YEARS = (2000, 2100)  # ``at`` from 2000-01-01 up to (not including) 2100-01-01, in its own offset
PAYLOAD_DEPTH_MAX = 16  # nesting of objects and arrays inside ``payload``
PAYLOAD_NODES_MAX = 20_000  # values (keys, strings, numbers, ...) inside ``payload``
PAYLOAD_TEXT_MAX = 65_536  # characters of one string or key inside ``payload``


_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (PostgreSQL text and JSONB refuse U+0000 and lone surrogates)."""
    if _UNSTORABLE.search(value) is None:  # the common case, in one scan
        return None
    if "\x00" in value:
        return "holds U+0000 (NUL)"
    return "holds a lone UTF-16 surrogate"


def shown_text(value: str) -> str:
    """``value`` with U+0000 and lone surrogates as escapes, for a message that names where they are."""
    return value.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def _storable(value: str) -> str:
    if problem := unstorable_text(value):
        raise PydanticCustomError("text_not_storable", "text {problem}", {"problem": problem})
    return value


StorableText = Annotated[str, AfterValidator(_storable)]
WireId = Annotated[StorableText, Field(min_length=1, max_length=64)]


def payload_problem(payload: Any) -> tuple[str, str, str] | None:
    """The first reason ``payload`` breaks the record bounds, as ``(error type, path, message)``; ``None`` if none.

    Walks iteratively (a hostile payload cannot exhaust the stack): depth, number of values, text length,
    storable text (keys too) and finite numbers.
    """
    # A value's path is (its parent's path, its key or index), spelt out only for the message: most payloads have none.
    pending: list[tuple[Any, Any, int]] = [(payload, None, 0)]
    nodes = 0
    while pending:
        value, path, depth = pending.pop()
        nodes += 1
        if nodes > PAYLOAD_NODES_MAX:
            return "too_large", "payload", f"more than {PAYLOAD_NODES_MAX} values"
        if isinstance(value, dict | list) and depth >= PAYLOAD_DEPTH_MAX:
            return "too_deep", _path_text(path), f"nested deeper than {PAYLOAD_DEPTH_MAX} levels"
        if isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                if problem := unstorable_text(key_text):
                    return "text_not_storable", _path_text((path, key_text)), f"key {problem}"
                if len(key_text) > PAYLOAD_TEXT_MAX:
                    return "too_long", _path_text((path, key_text)), f"key longer than {PAYLOAD_TEXT_MAX} characters"
                pending.append((item, (path, key_text), depth + 1))
        elif isinstance(value, list):
            pending.extend((item, (path, n), depth + 1) for n, item in enumerate(value))
        elif isinstance(value, str):
            if problem := unstorable_text(value):
                return "text_not_storable", _path_text(path), f"text {problem}"
            if len(value) > PAYLOAD_TEXT_MAX:
                return "too_long", _path_text(path), f"text longer than {PAYLOAD_TEXT_MAX} characters"
        elif isinstance(value, float) and not math.isfinite(value):
            return "not_finite", _path_text(path), "a number that is not finite (NaN or infinity)"
    return None


def _path_text(path: Any) -> str:
    """``payload.a.b[2]`` of a path as :func:`payload_problem` builds it: ``None`` or ``(parent, key or index)``,
    a key shown up to 40 characters."""
    parts: list[str] = []
    while path is not None:
        path, step = path
        parts.append(f"[{step}]" if isinstance(step, int) else f".{shown_text(step[:40])}")
    return "payload" + "".join(reversed(parts))


_LEAVES = (int, float, bool, type(None))


def payload_fits(payload: Any) -> bool:
    """Whether ``payload`` is within the record bounds, judged as :func:`payload_problem` judges it but without
    keeping the path to each value (ingest checks every record: most payloads are fine, and only a payload that
    is not needs its first problem named). ``False`` also for what only the full walk can judge (a key that is not a
    string, a subclass of dict or list): :func:`payload_problem` then has the last word."""
    pending: list[tuple[Any, int]] = [(payload, 0)]
    nodes = 0
    unstorable = _UNSTORABLE.search
    while pending:
        value, depth = pending.pop()
        nodes += 1
        kind = type(value)
        if kind is str:
            if len(value) > PAYLOAD_TEXT_MAX or unstorable(value):
                return False
        elif kind is dict:
            if depth >= PAYLOAD_DEPTH_MAX:
                return False
            for key, item in value.items():
                if type(key) is not str or len(key) > PAYLOAD_TEXT_MAX or unstorable(key):
                    return False
                pending.append((item, depth + 1))
        elif kind is list:
            if depth >= PAYLOAD_DEPTH_MAX:
                return False
            pending += [(item, depth + 1) for item in value]
        elif kind not in _LEAVES or (kind is float and not math.isfinite(value)):
            return False
        if nodes > PAYLOAD_NODES_MAX:
            return False
    return True


def _bounded_payload(payload: dict[str, Any]) -> dict[str, Any]:
    if payload_fits(payload):
        return payload
    if found := payload_problem(payload):
        kind, path, message = found
        raise PydanticCustomError(kind, "{path}: {message}", {"path": path, "message": message})
    return payload


def _record_time(at: datetime) -> datetime:
    # Judged on the time as written: converting year 1 or 9999 with an offset to UTC overflows.
    first, end = RECORD_YEARS
    if not first <= at.year < end:
        raise PydanticCustomError(
            "out_of_range", "record time must be from {first} to {end} (year {year})",
            {"first": first, "end": end, "year": at.year},
        )  # fmt: skip
    return at


class WireModel(BaseModel):
    """What a side reads from the other and checks strictly: an unknown field is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplyModel(BaseModel):
    """What central sends the edge (sync pages, ingest acks). An edge reads the reply of a newer central, which may
    carry fields added since, by ignoring the fields it does not know: central can be upgraded before its edges.
    Central never reads these models from the network."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --------------------------------------------------------------------------------------------------------- sync


class PassStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PassRecord(ReplyModel):
    """A monthly pass (月租卡) as an edge needs it to decide at a lane."""

    id: RecordId
    holder: str = Field(description="the holder's display name (for the lane display and the operator)")
    unit: str | None = Field(default=None, description="building and room, e.g. '3-1201'")
    plates: list[Plate] = Field(min_length=1)
    card: str | None = Field(default=None, description="an access card that also identifies this pass")
    vehicle_class: str = "small"
    car_parks: list[str] = Field(default_factory=list, description="car park ids; empty means every car park")
    valid_from: AwareDatetime
    valid_to: AwareDatetime
    status: PassStatus = PassStatus.ACTIVE
    status_reason: str | None = Field(
        default=None, max_length=32, pattern=r"^[a-z_]+$",
        description="why central holds a suspended pass: 'arrears' (an invoice overdue past its grace) or 'unpaid' "
        "(a sale not paid yet); absent when suspended by hand or from a central that does not say",
    )  # fmt: skip


class CardStatus(StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    REVOKED = "revoked"
    REPLACED = "replaced"


class CardRecord(ReplyModel):
    """An access card (门禁卡). ``number`` is the normalised card number: ``"<facility>:<card>"`` for Wiegand
    formats with a facility code, otherwise the decimal or raw number as the reader reports it."""

    id: RecordId
    number: str = Field(min_length=1, max_length=64)
    holder: str
    unit: str | None = None
    lanes: list[str] = Field(default_factory=list, description="lane ids this card opens; empty means all")
    car_parks: list[str] = Field(default_factory=list)
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    status: CardStatus = CardStatus.ACTIVE


class VehicleList(StrEnum):
    FREE = "free"  # 免费车辆: police, military, fire, ambulance, rescue, government, staff
    SPECIAL = "special"  # 特殊车辆: handled by rule or by the operator, always logged
    BLACKLIST = "blacklist"  # 黑名单: denied, operator alerted


class VehicleEntry(ReplyModel):
    id: RecordId
    list_kind: VehicleList
    plate: Plate
    category: str = Field(min_length=1, description="e.g. police, ambulance, fire, staff, hearse, contractor")
    reason: str = ""
    car_parks: list[str] = Field(default_factory=list)
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None


class TariffRecord(ReplyModel):
    """A tariff version as published by central; ``sha256`` is of ``content`` (UTF-8).

    ``id`` names the version (``residential@2``), ``tariff_id`` the tariff it is a version of (the file's ``id``);
    the version quotes stays that entered at or after ``effective_from``. A record without ``effective_from``
    (published before tariffs had versions) is kept but never quotes."""

    id: RecordId
    content: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    tariff_id: str = Field(default="", max_length=64)
    effective_from: AwareDatetime | None = None


class ListKind(StrEnum):
    PASSES = "passes"
    CARDS = "cards"
    VEHICLES = "vehicles"
    TARIFFS = "tariffs"


class Deletion(ReplyModel):
    kind: ListKind
    id: RecordId


class SyncPage(ReplyModel):
    wire_version: Literal[1] = 1
    since: int = Field(ge=0, description="the version the edge asked from")
    version: int = Field(ge=0, description="the version the edge has once it applies this page")
    full: bool = Field(description="a snapshot: the edge replaces its lists (first page) rather than patching them")
    more: bool = Field(description="more pages follow: ask again with since=version")
    passes: list[PassRecord] = Field(default_factory=list)
    cards: list[CardRecord] = Field(default_factory=list)
    vehicles: list[VehicleEntry] = Field(default_factory=list)
    tariffs: list[TariffRecord] = Field(default_factory=list)
    deleted: list[Deletion] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------------- ingest


class RecordKind(StrEnum):
    SESSION = "session"  # a vehicle's stay: opened at entry, closed at exit
    TRANSACTION = "transaction"  # a payment, a waiver (free/special), a reversal
    BARRIER_COMMAND = "barrier_command"  # every opening, tied to the record that justified it
    MANUAL_ACTION = "manual_action"  # an operator's hand action: who, when, why, evidence
    ABNORMAL_EVENT = "abnormal_event"  # 异常: back-out, tailgating, opening without command, missing entry...
    SHIFT = "shift"  # a booth shift opened, a cash drop, a handover
    SHIFT_REPORT = "shift_report"  # the closing figures of a shift
    TARIFF_VERSION = "tariff_version"  # the text of a tariff version, sent once before the first fee it computes
    SECURITY_ALERT = "security_alert"  # e.g. a source spraying PINs at a booth console: for the office to see
    DEVICE_FAULT = "device_fault"  # a device went offline or faulted ("started"), and was back ("cleared")
    PRIVACY = "privacy"  # a retention purge ("purge", "purged") or a data-subject export ("exported"): the audit


class JournalRecord(WireModel):
    """One record of an edge's journal, chained to the one before it.

    ``payload`` is kind-specific JSON (times as ISO 8601 UTC text, money as integer minor units with a
    ``currency`` field). ``hash`` is :func:`record_hash` of everything else, which includes ``prev_hash``.

    Every field is bounded (ids 64 characters, ``seq`` a bigint, ``at`` from 2000 to 2100, ``payload`` depth, size,
    finite numbers, and no text PostgreSQL cannot store: U+0000, lone surrogates). Central checks each record of a
    batch on its own: one outside the bounds is kept as received in quarantine, never refused with the batch. The
    edge builds its records with :func:`seal` without these checks, so a wrong clock never stops it journaling.
    """

    id: WireId = Field(description="globally unique, time-ordered (UUIDv7) id made at the edge")
    seq: int = Field(ge=1, le=SEQ_MAX, description="position in this edge's chain, 1, 2, 3 ...")
    kind: RecordKind
    car_park: WireId
    lane: WireId | None = None
    at: Annotated[AwareDatetime, AfterValidator(_record_time)]
    payload: Annotated[dict[str, JsonValue], AfterValidator(_bounded_payload)]
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


BATCH_MAX = 5000


class IngestBatch(WireModel):
    """What the edge sends. Central reads it as an :class:`IngestEnvelope` first, then each record on its own."""

    wire_version: Literal[1] = 1
    edge_id: WireId
    records: list[JournalRecord] = Field(min_length=1, max_length=BATCH_MAX)


class IngestEnvelope(WireModel):
    """A batch as central first reads it: the envelope is checked (a fault here refuses the whole batch with 422,
    naming the field), the records only as JSON objects, so one bad record is quarantined instead of refusing the
    records around it."""

    wire_version: Literal[1] = 1
    edge_id: WireId
    records: list[dict[str, Any]] = Field(min_length=1, max_length=BATCH_MAX,
                                          description="JournalRecord objects, each checked on its own")  # fmt: skip


class ChainStatus(StrEnum):
    OK = "ok"
    GAP = "gap"  # records before these have not arrived yet (normal while catching up out of order)
    BREAK = "break"  # a record's prev_hash or hash does not match: flagged for the supervisor


class Rejection(ReplyModel):
    id: str
    code: str
    message: str


class IngestAck(ReplyModel):
    accepted: list[str] = Field(description="ids stored by this request (quarantined ones included)")
    duplicates: list[str] = Field(description="ids central already had (the same content): safe to drop")
    rejected: list[Rejection] = Field(default_factory=list, description="ids refused, with why; resend is futile")
    quarantined: list[Rejection] = Field(
        default_factory=list,
        description="records stored as received but not projected (outside the bounds): code and field; settled",
    )
    chain: ChainStatus
    chain_detail: str = ""
    last_seq: int = Field(ge=0, description="the highest seq central holds contiguously from 1 for this edge")


class ErrorBody(WireModel):
    code: str = Field(description="stable machine-readable code, e.g. 'auth.invalid_token'")
    message: str
    detail: Any = None


# ------------------------------------------------------------------------------------------------- hash chain


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """The one serialisation both sides hash: sorted keys, no spaces, UTF-8 (``json.dumps`` with these options,
    its encoder made once)."""
    return _CANONICAL.encode(value).encode("utf-8")


def record_hash(
    *,
    id: str,
    seq: int,
    kind: RecordKind | str,
    car_park: str,
    lane: str | None,
    at: datetime,
    payload: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) over the record's fields other than ``hash``, in canonical JSON.

    ``at`` is hashed as UTC ISO 8601 with microseconds, so an edge and central that parse and re-serialise the
    same instant always agree.
    """
    if at.tzinfo is None:
        raise ValueError("record time must be timezone-aware")
    body = {
        "id": id,
        "seq": seq,
        "kind": str(kind),
        "car_park": car_park,
        "lane": lane,
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def verify_record(record: JournalRecord) -> bool:
    """True when ``record.hash`` matches its content."""
    return record.hash == record_hash(
        id=record.id,
        seq=record.seq,
        kind=record.kind,
        car_park=record.car_park,
        lane=record.lane,
        at=record.at,
        payload=record.payload,
        prev_hash=record.prev_hash,
    )


def seal(
    *,
    id: str,
    seq: int,
    kind: RecordKind,
    car_park: str,
    lane: str | None,
    at: datetime,
    payload: dict[str, JsonValue],
    prev_hash: str,
) -> JournalRecord:
    """Build a :class:`JournalRecord` with its hash computed."""
    digest = record_hash(
        id=id, seq=seq, kind=kind, car_park=car_park, lane=lane, at=at, payload=payload, prev_hash=prev_hash
    )
    # Not validated against the record bounds: the edge journals whatever happens (a clock at 1970 included) and
    # central quarantines what is outside them; durability before motion.
    return JournalRecord.model_construct(
        id=id, seq=seq, kind=RecordKind(kind), car_park=car_park, lane=lane, at=at, payload=payload,
        prev_hash=prev_hash, hash=digest,
    )  # fmt: skip
