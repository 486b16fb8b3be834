"""The errors central's services raise: each with the HTTP status and the stable code the API and the office
console report it with (``central.api.errors`` turns them into responses, the office into messages)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error reported as it is: ``code`` is part of the API and never changes meaning."""

    def __init__(
        self, status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers  # e.g. Retry-After on a 429


def not_found(entity: str, key: object) -> ApiError:
    return ApiError(404, f"{entity}.not_found", f"no {entity.replace('_', ' ')} {key!r}")


def conflict(code: str, message: str, detail: Any = None) -> ApiError:
    return ApiError(409, code, message, detail)
