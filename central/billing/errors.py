"""The error billing raises: a stable code, a message naming what is wrong and where, and the HTTP status the API
answers with (billing errors are API errors, so the routes need no translation)."""

from __future__ import annotations

from typing import Any

from central.errors import ApiError


class BillingError(ApiError):
    """A billing rule refused the action (409 unless said otherwise)."""

    def __init__(self, code: str, message: str, detail: Any = None, *, status: int = 409) -> None:
        super().__init__(status, code, message, detail)


class MissingRecordError(BillingError):
    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"{entity}.not_found", f"no {entity.replace('_', ' ')} {key!r}", status=404)


class FileRejectedError(BillingError):
    """A file (a bank's result file, a profile) that cannot be taken as it is: names the file, line and column."""

    def __init__(self, file: str, line: int | None, column: str | None, message: str) -> None:
        where = file + (f", line {line}" if line is not None else "") + (f", column {column}" if column else "")
        super().__init__(
            "debit.bad_file", f"{where}: {message}", {"file": file, "line": line, "column": column}, status=422
        )
        self.file, self.line, self.column, self.fault = file, line, column, message
