"""Reading each record of an ingest batch on its own: the ones outside the wire bounds go to quarantine.

A record that does not validate as a :class:`parking.wire.JournalRecord` (a field too long, ``seq`` beyond a bigint,
``at`` outside 2000-2100, a payload too deep or holding text PostgreSQL cannot store, ...) is neither refused nor
lost: it is kept as received in ``quarantined_records`` with the reason and the field, and the records around it go
on. When it states its ``seq``, ``prev_hash`` and ``hash`` well enough it keeps its place in the edge's hash chain
(the next record's ``prev_hash`` names its hash), so the chain is verified past it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from parking.wire import SEQ_MAX, JournalRecord, record_hash, shown_text, unstorable_text

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REASONS = {
    "string_too_long": "too_long", "string_too_short": "missing", "missing": "missing",
    "less_than_equal": "out_of_range", "greater_than_equal": "out_of_range", "out_of_range": "out_of_range",
    "text_not_storable": "text_not_storable", "too_deep": "too_deep", "too_large": "too_large",
    "too_long": "too_long", "not_finite": "not_finite", "extra_forbidden": "unknown_field",
}  # fmt: skip


@dataclass(slots=True)
class Quarantined:
    """One record kept as received; ``seq``/``prev_hash``/``hash`` set when it can take its place in the chain."""

    record_id: str | None
    seq: int | None
    kind: str | None
    prev_hash: str | None
    hash: str | None
    hash_ok: bool | None
    reason: str
    field: str
    detail: str
    raw: str
    digest: str

    @property
    def label(self) -> str:
        """How the ack names the record: its id when usable, else its seq, else its digest."""
        if self.record_id:
            return self.record_id
        return f"seq {self.seq}" if self.seq is not None else f"sha256 {self.digest[:16]}"


def _text(raw: dict[str, Any], key: str, length: int) -> str | None:
    value = raw.get(key)
    if isinstance(value, str) and len(value) <= length and unstorable_text(value) is None:
        return value
    return None


def _hash_ok(raw: dict[str, Any]) -> bool | None:
    """Whether the record's hash matches its content as received; ``None`` when it cannot be recomputed."""
    try:
        at = datetime.fromisoformat(str(raw["at"]).replace("Z", "+00:00"))
        if at.tzinfo is None or not isinstance(raw["payload"], dict) or type(raw["seq"]) is not int:
            return None
        digest = record_hash(id=raw["id"], seq=raw["seq"], kind=str(raw["kind"]), car_park=raw["car_park"],
                             lane=raw.get("lane"), at=at, payload=raw["payload"],
                             prev_hash=raw["prev_hash"])  # fmt: skip
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError):
        return None
    return bool(digest == raw.get("hash"))


def quarantine(raw: dict[str, Any], reason: str, field: str, detail: str) -> Quarantined:
    """A quarantine entry for ``raw`` as received."""
    text = json.dumps(raw, ensure_ascii=True, separators=(",", ":"), default=str)
    seq = raw.get("seq")
    positioned = type(seq) is int and 1 <= seq <= SEQ_MAX
    prev, digest = _text(raw, "prev_hash", 64), _text(raw, "hash", 64)
    prev = prev if prev and _HEX64.match(prev) else None
    digest = digest if digest and _HEX64.match(digest) else None
    return Quarantined(
        record_id=_text(raw, "id", 64), seq=seq if positioned else None, kind=_text(raw, "kind", 32),
        prev_hash=prev, hash=digest, hash_ok=_hash_ok(raw), reason=reason[:32], field=shown_text(field)[:200],
        detail=shown_text(detail)[:2000], raw=text, digest=hashlib.sha256(text.encode("ascii")).hexdigest(),
    )  # fmt: skip


def read_record(raw: dict[str, Any]) -> JournalRecord | Quarantined:
    """The record, or its quarantine entry naming the first field outside the bounds."""
    try:
        return JournalRecord.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        ctx = first.get("ctx") or {}
        field = str(ctx.get("path") or ".".join(str(part) for part in first.get("loc", ())) or "record")
        reason = _REASONS.get(first["type"], "invalid")
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'record'}: {e['msg']}" for e in err.errors()[:5]
        )
        return quarantine(raw, reason, field, detail)
