"""Paging a list page: which rows to fetch (one more than shown, to know whether a next page exists) and the links
to the neighbouring pages, keeping the list's filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")


@dataclass
class Paging(Generic[T]):
    path: str
    page: int
    size: int
    filters: dict[str, str] = field(default_factory=dict)
    rows: list[T] = field(default_factory=list)
    has_next: bool = False

    @classmethod
    def of(cls, path: str, page: int, size: int = 50, **filters: str | None) -> Paging[T]:
        kept = {key: value for key, value in filters.items() if value}
        return cls(path=path, page=max(1, min(page, 100_000)), size=size, filters=kept)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def fetch(self) -> int:
        """How many rows to ask for: one more than a page."""
        return self.size + 1

    def take(self, rows: Sequence[T]) -> Paging[T]:
        self.rows = list(rows[: self.size])
        self.has_next = len(rows) > self.size
        return self

    def link(self, page: int) -> str:
        return f"{self.path}?{urlencode({**self.filters, 'page': page})}"
