"""Brazilian phone normalisation to E.164 digits."""

from __future__ import annotations

import pytest

from app.errors import ChannelError
from app.notify.phone import normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+55 (11) 98765-4321", "5511987654321"),
        ("5511987654321", "5511987654321"),
        ("(11) 98765-4321", "5511987654321"),
        ("11 3456-7890", "551134567890"),
        ("011 98765-4321", "5511987654321"),  # trunk prefix
        ("0 21 11 98765-4321", "5511987654321"),  # trunk prefix + carrier code
        ("(55) 99123-4567", "5555991234567"),  # DDD 55 (RS) without country code
        ("+55 11 8765-4321", "5511987654321"),  # old 8-digit mobile gets the 9th digit
        ("0055 11 98765-4321", "5511987654321"),
        ("+1 650 555 1234", "16505551234"),  # foreign numbers pass through
    ],
)
def test_normalises_to_e164_digits(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "1234", "(20) 98765-4321", "(11) 88765-4321", "+55 11 1234-5678", "abc"]
)
def test_rejects_what_cannot_be_a_brazilian_number(raw: str) -> None:
    with pytest.raises(ChannelError) as info:
        normalize_phone(raw)
    assert (info.value.permanent, info.value.code) == (True, "destinatario_invalido")
