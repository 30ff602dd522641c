"""Competência: the accounting period (YYYY-MM) a tax, document or task refers to."""

from __future__ import annotations

import calendar as _stdcal
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from app.errors import InvalidInput

__all__ = ["Competencia"]

# Accepted spellings: canonical "2026-05", the pt-BR label "05/2026", and compact "202605".
_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})$", re.ASCII),
    re.compile(r"^(?P<m>\d{2})/(?P<y>\d{4})$", re.ASCII),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$", re.ASCII),
)


@dataclass(frozen=True, order=True, slots=True)
class Competencia:
    """A year-month; ordered, hashable, canonical text form ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 1 <= self.year <= 9999):
            raise InvalidInput(
                f"Competência inválida: {self.month:02d}/{self.year}.", code="competencia_invalida"
            )

    @classmethod
    def parse(cls, text: str) -> Competencia:
        """Parse ``YYYY-MM``, ``MM/YYYY`` or ``YYYYMM``."""
        raw = text.strip()
        for pattern in _PATTERNS:
            match = pattern.match(raw)
            if match:
                return cls(int(match["y"]), int(match["m"]))
        raise InvalidInput(
            f"Competência inválida: {text!r} (use AAAA-MM ou MM/AAAA).",
            code="competencia_invalida",
        )

    @classmethod
    def of(cls, d: date) -> Competencia:
        """The competência containing date ``d``."""
        return cls(d.year, d.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """The pt-BR form shown to users: ``MM/AAAA``."""
        return f"{self.month:02d}/{self.year:04d}"

    def shift(self, months: int) -> Competencia:
        """The competência ``months`` later (earlier when negative)."""
        index = self.year * 12 + (self.month - 1) + months
        return Competencia(index // 12, index % 12 + 1)

    def next(self) -> Competencia:
        """The following month."""
        return self.shift(1)

    def prev(self) -> Competencia:
        """The preceding month."""
        return self.shift(-1)

    @property
    def quarter(self) -> int:
        """Calendar quarter 1–4."""
        return (self.month - 1) // 3 + 1

    @property
    def is_quarter_end(self) -> bool:
        """True for March, June, September and December."""
        return self.month % 3 == 0

    @property
    def first_day(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """The last day of the month."""
        return date(self.year, self.month, _stdcal.monthrange(self.year, self.month)[1])

    def day(self, day: int) -> date:
        """Day ``day`` of this month, clamped to the month's last day (e.g. 31 → 30/04)."""
        return date(self.year, self.month, min(day, self.last_day.day))

    def months_until(self, other: Competencia) -> int:
        """How many months from ``self`` to ``other`` (negative when ``other`` is earlier)."""
        return (other.year - self.year) * 12 + (other.month - self.month)

    @staticmethod
    def range(start: Competencia, end: Competencia) -> Iterator[Competencia]:
        """Every competência from ``start`` to ``end``, both included (empty when end < start)."""
        current = start
        while current <= end:
            yield current
            current = current.next()
