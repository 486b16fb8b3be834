"""Reading the office console's forms: each field parsed and bounded where it enters, and every refusal kept as a
message (a msgid with its values, translated when the page is rendered) beside the field it is about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from central.api.errors import ApiError
from central.office.navigation import N_
from central.renewal import OPERATOR_ZONE
from parking.money import MoneyError, parse_amount

MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a bank's result file, as the API takes it


@dataclass(frozen=True)
class FieldError:
    message: str  # a msgid with %(name)s placeholders
    values: dict[str, Any] = field(default_factory=dict)


class Form:
    """One submitted form: its values as sent (to show them again) and the errors found reading them."""

    def __init__(self, data: FormData | dict[str, str] | None = None) -> None:
        self.data = data if data is not None else {}
        self.errors: dict[str, FieldError] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # an uploaded file's name and content (read by the upload)

    def raw(self, name: str) -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else ""

    def values(self, name: str) -> list[str]:
        if isinstance(self.data, FormData):
            return [v for v in self.data.getlist(name) if isinstance(v, str)]
        return [self.raw(name)] if self.raw(name) else []

    def refuse(self, name: str, message: str, **values: Any) -> None:
        """Record a refusal for ``name`` (the first one per field is the one shown)."""
        self.errors.setdefault(name, FieldError(message, values))

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self, name: str, *, max_length: int, required: bool = False) -> str:
        value = self.raw(name).strip()
        if "\x00" in value:
            self.refuse(name, N_("The text contains a NUL character."))
        elif required and not value:
            self.refuse(name, N_("This field is required."))
        elif len(value) > max_length:
            self.refuse(name, N_("At most %(max)s characters, not %(length)s."), max=max_length, length=len(value))
        return value

    def reason(self, name: str = "reason") -> str:
        """Why the operator changes money or access: required, kept in the audit log."""
        value = self.text(name, max_length=500)
        if not value and name not in self.errors:
            self.refuse(name, N_("Say why: the reason goes into the audit log."))
        return value

    def integer(self, name: str, *, low: int, high: int, required: bool = True) -> int | None:
        text = self.raw(name).strip()
        if not text:
            if required:
                self.refuse(name, N_("This field is required."))
            return None
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            self.refuse(name, N_("Enter a whole number."))
            return None
        value = int(text)
        if not low <= value <= high:
            self.refuse(name, N_("Enter a number from %(low)s to %(high)s."), low=low, high=high)
            return None
        return value

    def choice(self, name: str, choices: Iterable[str], *, required: bool = True) -> str:
        value = self.raw(name).strip()
        allowed = list(choices)
        if not value and not required:
            return ""
        if value not in allowed:
            self.refuse(name, N_("Choose one of the offered values."))
        return value

    def date(self, name: str, *, required: bool = False, zone: ZoneInfo = OPERATOR_ZONE) -> datetime | None:
        """A day typed as YYYY-MM-DD: its start in the car park's zone (answered aware, in that zone)."""
        text = self.raw(name).strip()
        if not text:
            if required:
                self.refuse(name, N_("This field is required."))
            return None
        try:
            day = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            self.refuse(name, N_("Enter a date as YYYY-MM-DD."))
            return None
        if not 2000 <= day.year < 2200:
            self.refuse(name, N_("Enter a date between 2000 and 2199."))
            return None
        return datetime.combine(day, time(), zone)

    def month(self, name: str, *, required: bool = False) -> str:
        """A month typed as YYYY-MM (a month field); empty when not given or refused."""
        text = self.raw(name).strip()
        if not text:
            if required:
                self.refuse(name, N_("This field is required."))
            return ""
        year, dash, number = text[:4], text[4:5], text[5:]
        if not (len(text) == 7 and text.isascii() and dash == "-" and year.isdigit() and number.isdigit()
                and 2000 <= int(year) < 2200 and 1 <= int(number) <= 12):  # fmt: skip
            self.refuse(name, N_("Enter a month as YYYY-MM."))
            return ""
        return text

    def moment(self, name: str, zone: ZoneInfo = OPERATOR_ZONE) -> datetime | None:
        """A time typed as YYYY-MM-DDTHH:MM (a datetime-local field) in the car park's zone; empty is None."""
        text = self.raw(name).strip()
        if not text:
            return None
        try:
            value = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
        except ValueError:
            self.refuse(name, N_("Enter a time as YYYY-MM-DD HH:MM."))
            return None
        if not 2000 <= value.year < 2200:
            self.refuse(name, N_("Enter a date between 2000 and 2199."))
            return None
        return value.replace(tzinfo=zone)

    def amount(self, name: str, currency: str, *, required: bool = False) -> int:
        """Money typed as decimal text (12.50) in integer minor units; empty is 0 unless required."""
        text = self.raw(name).strip().replace(",", "")
        if not text:
            if required:
                self.refuse(name, N_("This field is required."))
            return 0
        try:
            value = parse_amount(text, currency)
        except MoneyError:
            self.refuse(name, N_("Enter an amount like 12.50."))
            return 0
        if not 0 <= value <= 10**12:
            self.refuse(name, N_("Enter an amount from 0 up to 10,000,000,000."))
            return 0
        return value

    def upload(self, name: str) -> tuple[str, bytes]:
        """The uploaded file ``name``: its base name (no folders) and content; refused when missing, empty or over
        :data:`MAX_UPLOAD_BYTES`."""
        file_name, content = self.files.get(name, ("", b""))
        base = file_name.replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "")[:200]
        if not base or not content:
            self.refuse(name, N_("Choose a file to upload."))
        elif len(content) > MAX_UPLOAD_BYTES:
            self.refuse(name, N_("The file is larger than %(max)s MB."), max=MAX_UPLOAD_BYTES // 2**20)
        return base, content

    def plates(self, name: str) -> list[str]:
        """One or more plates separated by commas or spaces (at most five, 16 characters each)."""
        plates = [p for p in self.raw(name).replace("，", ",").replace(",", " ").upper().split() if p]
        if not plates:
            self.refuse(name, N_("Enter at least one plate."))
        elif len(plates) > 5:
            self.refuse(name, N_("At most five plates."))
        elif any(len(p) > 16 or "\x00" in p for p in plates):
            self.refuse(name, N_("A plate has at most 16 characters."))
        return plates

    def refuse_api(self, error: ApiError, fields: dict[str, str], fallback: str) -> None:
        """Show a refusal of the service layer beside the field it concerns (``fields``: error code → field)."""
        message = API_MESSAGES.get(error.code)
        target = fields.get(error.code, fallback)
        if message is None:
            self.refuse(target, N_("Refused: %(detail)s"), detail=error.message)
        else:
            self.refuse(target, message)


# The service layer's refusals (central.issuing, the API's stable codes) in words for the console.
API_MESSAGES = {
    "holder.not_found": N_("No such holder."),
    "plan.not_found": N_("No such pass plan."),
    "plan.inactive": N_("This plan is no longer sold."),
    "pass.bad_plate": N_("A plate is empty once separators are removed."),
    "pass.cancelled": N_("A cancelled pass cannot be renewed: sell a new one."),
    "card.number_in_use": N_("An active card already has this number."),
    "card.not_active": N_("The card is no longer active."),
    "card.not_found": N_("No such card."),
    "unit.not_found": N_("No such unit."),
    "access_group.not_found": N_("No such access group."),
}
