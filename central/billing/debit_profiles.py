"""Bank profiles for direct debit (TOML files in ``config/debit-profiles/``): the batch file's layout (CSV columns,
their order and titles, header, encoding GBK or UTF-8, amount format; or ISO 20022 pain.008 with the creditor) and
the layout of the bank's result file (CSV, or pain.002)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from central.billing.errors import BillingError
from parking.money import format_amount, minor_digits, parse_amount

PROFILE_DIR = Path(__file__).resolve().parents[2] / "config" / "debit-profiles"

BatchField = Literal[
    "reference",
    "account_number",
    "account_name",
    "bank",
    "amount",
    "currency",
    "mandate_reference",
    "invoice_number",
    "holder",
    "unit",
    "collection_date",
    "description",
]
ResultField = Literal["reference", "amount", "code", "reason", "account_number", "account_name"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(Strict):
    field: BatchField
    title: str = Field(min_length=1, max_length=64)


class ResultColumn(Strict):
    field: ResultField
    title: str = Field(min_length=1, max_length=64)


class Creditor(Strict):
    name: str = Field(min_length=1, max_length=70)
    iban: str
    bic: str = ""
    creditor_id: str = Field(min_length=1, max_length=35)


class ResultLayout(Strict):
    format: Literal["csv", "pain.002"] = "csv"
    encoding: Literal["gbk", "utf-8"] = "utf-8"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True
    amount_format: Literal["decimal", "minor"] = "decimal"
    columns: list[ResultColumn] = Field(default_factory=list)
    paid_codes: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def required_columns(self) -> ResultLayout:
        if self.format == "csv":
            fields = {c.field for c in self.columns}
            missing = {"reference", "amount", "code"} - fields
            if missing:
                raise ValueError(f"the result layout lacks the columns {sorted(missing)}")
        return self


class DebitProfile(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    bank: str
    format: Literal["csv", "pain.008"]
    scheme: Literal["cn", "sepa"]
    currency: str = Field(min_length=3, max_length=3)
    encoding: Literal["gbk", "utf-8"] = "utf-8"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True
    amount_format: Literal["decimal", "minor"] = "decimal"
    columns: list[Column] = Field(default_factory=list)
    pain_schema: str = "pain.008.001.02"
    creditor: Creditor | None = None
    result: ResultLayout

    @model_validator(mode="after")
    def complete(self) -> DebitProfile:
        minor_digits(self.currency)
        if self.format == "csv" and not self.columns:
            raise ValueError("a CSV profile needs its columns")
        if self.format == "pain.008" and self.creditor is None:
            raise ValueError("a pain.008 profile needs its [creditor]")
        return self

    def format_amount(self, minor: int, amount_format: str | None = None) -> str:
        return str(minor) if (amount_format or self.amount_format) == "minor" else format_amount(minor, self.currency)

    def parse_amount(self, text: str) -> int:
        if self.result.amount_format == "minor":
            if not text.strip().isascii() or not text.strip().isdigit():
                raise ValueError(f"{text!r} is not a whole number of minor units")
            return int(text)
        return parse_amount(text, self.currency)


def profile_folder(configured: str | None) -> Path:
    """The profiles' folder: the one configured (``debit_profile_dir``), else the project's."""
    return Path(configured) if configured else PROFILE_DIR


def load_profile(name: str, directory: Path | None = None) -> DebitProfile:
    """The profile ``<name>.toml`` from ``directory`` (the project's ``config/debit-profiles`` by default)."""
    folder = directory or PROFILE_DIR
    path = folder / f"{name}.toml"
    if "/" in name or "\\" in name or not path.is_file():
        raise BillingError("debit.no_profile", f"no debit profile {name!r} in {folder}", status=404)
    try:
        return DebitProfile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as err:
        raise BillingError("debit.bad_profile", f"{path.name}: {err}", status=422) from err


def available_profiles(directory: Path | None = None) -> list[DebitProfile]:
    """Every profile in ``directory`` (the project's by default) that loads, by name; one that does not is left out
    (``load_profile`` names its fault when it is chosen)."""
    folder = directory or PROFILE_DIR
    profiles = []
    for path in sorted(folder.glob("*.toml")):
        try:
            profiles.append(load_profile(path.stem, folder))
        except BillingError:
            continue
    return profiles
