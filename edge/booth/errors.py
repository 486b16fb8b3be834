"""The booth desk's refusal of an operator action, with its stable code (the console translates it)."""

from __future__ import annotations


class DeskError(Exception):
    """An operator action refused; ``code`` is stable (the console translates it), ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        self.code, self.message, self.status = code, message, status
        super().__init__(f"{code}: {message}")
