"""Brazilian phone numbers to the E.164 digits the WhatsApp Cloud API expects (55+DDD+número)."""

from __future__ import annotations

import re

from app.notify.base import DESTINATARIO_INVALIDO, channel_error

__all__ = ["VALID_DDDS", "normalize_phone"]

# Area codes in use (Anatel, Plano Geral de Códigos Nacionais — Res. Anatel 263/2001 and its
# DDD table).
VALID_DDDS: frozenset[str] = frozenset(
    [str(d) for d in range(11, 20)]
    + ["21", "22", "24", "27", "28", "31", "32", "33", "34", "35", "37", "38"]
    + [str(d) for d in range(41, 50)]
    + ["51", "53", "54", "55"]
    + [str(d) for d in range(61, 70)]
    + ["71", "73", "74", "75", "77", "79"]
    + [str(d) for d in range(81, 90)]
    + [str(d) for d in range(91, 100)]
)

# A number dialled with the national trunk prefix: total length -> digits to drop in front
# ("0" + DDD + número, or "0" + carrier selection code XX + DDD + número).
_TRUNK_PREFIX_BY_LENGTH: dict[int, int] = {11: 1, 12: 1, 13: 3, 14: 3}
_E164_MAX_DIGITS = 15  # ITU-T E.164 §6
_DIGITS_ONLY = re.compile(r"\D")


def _invalid(raw: str) -> Exception:
    return channel_error(DESTINATARIO_INVALIDO, f"Telefone: {raw!r}.")


def normalize_phone(raw: str) -> str:
    """Return ``55DDNNNNNNNNN`` for a Brazilian number (foreign ``+CC…`` numbers pass through)."""
    text = raw.strip()
    digits = _DIGITS_ONLY.sub("", text)
    if text.startswith("00"):
        text, digits = "+" + text[2:], digits[2:]
    if text.startswith("+") and not digits.startswith("55"):
        if 8 <= len(digits) <= _E164_MAX_DIGITS:
            return digits
        raise _invalid(raw)
    if (text.startswith("+") or len(digits) in (12, 13)) and digits.startswith("55"):
        national = digits[2:]
        if len(national) not in (10, 11):
            raise _invalid(raw)
    elif digits.startswith("0") and len(digits) in _TRUNK_PREFIX_BY_LENGTH:
        national = digits[_TRUNK_PREFIX_BY_LENGTH[len(digits)] :]
    elif len(digits) in (10, 11) and not digits.startswith("0"):
        national = digits
    else:
        raise _invalid(raw)
    ddd, number = national[:2], national[2:]
    if ddd not in VALID_DDDS:
        raise _invalid(raw)
    if len(number) == 8 and number[0] in "6789":
        # Mobile numbers gained a leading 9 everywhere by 2016 (Res. Anatel 553/2010, the
        # "nono dígito"); an 8-digit mobile typed from an old contact list gets it back.
        number = "9" + number
    if len(number) == 9 and number[0] != "9":
        raise _invalid(raw)
    if len(number) == 8 and number[0] not in "2345":
        raise _invalid(raw)
    return "55" + ddd + number
