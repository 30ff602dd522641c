"""CNPJ (numeric and alphanumeric) and CPF: normalise, validate, format.

Rules:
- CNPJ has 14 characters: 12 base characters ``[0-9A-Z]`` and 2 numeric check digits;
  alphanumeric CNPJs are issued from July 2026 (IN RFB 2.229/2024, annex: "Cálculo do DV").
- Each character is worth ``ord(c) - 48`` (digits keep their value, ``A`` = 17 … ``Z`` = 42).
- DV = 0 when ``sum(value * weight) mod 11 < 2``, else ``11 - r`` (same for CPF and the chave).

Implemented here instead of adding a dependency: the rule is a few lines, it is shared with the
chave de acesso check digit, and several libraries still map ``A`` to 10 (wrong).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import mul

__all__ = [
    "CNPJ_DV1_WEIGHTS",
    "CNPJ_DV2_WEIGHTS",
    "cnpj_check_digits",
    "cpf_check_digits",
    "format_cnpj",
    "format_cpf",
    "is_valid_cnpj",
    "is_valid_cpf",
    "is_valid_document",
    "mod11_dv",
    "normalize_cnpj",
    "normalize_cpf",
]

# IN RFB 2.229/2024 annex: weights for DV1 over the 12 base characters and DV2 over 12 + DV1.
CNPJ_DV1_WEIGHTS: tuple[int, ...] = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
CNPJ_DV2_WEIGHTS: tuple[int, ...] = (6, *CNPJ_DV1_WEIGHTS)
# CPF (IN RFB 2.172/2024 keeps the classic rule): weights 10..2 then 11..2.
CPF_DV1_WEIGHTS: tuple[int, ...] = tuple(range(10, 1, -1))
CPF_DV2_WEIGHTS: tuple[int, ...] = tuple(range(11, 1, -1))

_CNPJ_RE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_CPF_RE = re.compile(r"[0-9]{11}")
_MASK_CHARS = re.compile(r"[.\-/\s]")


def mod11_dv(chars: str, weights: Sequence[int]) -> int:
    """Modulo-11 check digit with character value ``ord(c) - 48`` (RFB / MOC NF-e rule).

    Computed as ``sum(ord(c) * w) - 48 * sum(w)`` with ``map`` (no Python-level loop: this
    runs for every chave validated); ASCII text is read as its bytes, which are the ``ord``s.
    """
    if len(chars) != len(weights):
        raise ValueError(f"{len(chars)} caracteres para {len(weights)} pesos")
    codes = chars.encode() if chars.isascii() else map(ord, chars)
    total = sum(map(mul, codes, weights)) - 48 * sum(weights)
    r = total % 11
    return 0 if r < 2 else 11 - r


def normalize_cnpj(value: str) -> str:
    """Strip the mask (``. / -`` and spaces) and upper-case; does not validate."""
    return _MASK_CHARS.sub("", value).upper()


def normalize_cpf(value: str) -> str:
    """Strip the mask (``. -`` and spaces); does not validate."""
    return _MASK_CHARS.sub("", value)


def cnpj_check_digits(base12: str) -> str:
    """The two check digits of a 12-character (alphanumeric) CNPJ base."""
    base = normalize_cnpj(base12)
    if not re.fullmatch(r"[0-9A-Z]{12}", base):
        raise ValueError("base de CNPJ deve ter 12 caracteres [0-9A-Z]")
    dv1 = mod11_dv(base, CNPJ_DV1_WEIGHTS)
    dv2 = mod11_dv(base + str(dv1), CNPJ_DV2_WEIGHTS)
    return f"{dv1}{dv2}"


def cpf_check_digits(base9: str) -> str:
    """The two check digits of a 9-digit CPF base."""
    if not re.fullmatch(r"[0-9]{9}", base9):
        raise ValueError("base de CPF deve ter 9 dígitos")
    dv1 = mod11_dv(base9, CPF_DV1_WEIGHTS)
    dv2 = mod11_dv(base9 + str(dv1), CPF_DV2_WEIGHTS)
    return f"{dv1}{dv2}"


def is_valid_cnpj(value: str) -> bool:
    """True for a numeric or alphanumeric CNPJ (masked or not) with correct check digits."""
    v = normalize_cnpj(value)
    if not _CNPJ_RE.fullmatch(v) or len(set(v)) == 1:  # 000…0 and 111…1 pass the DV, not RFB
        return False
    return cnpj_check_digits(v[:12]) == v[12:]


def is_valid_cpf(value: str) -> bool:
    """True for an 11-digit CPF (masked or not) with correct check digits."""
    v = normalize_cpf(value)
    if not _CPF_RE.fullmatch(v) or len(set(v)) == 1:
        return False
    return cpf_check_digits(v[:9]) == v[9:]


def is_valid_document(value: str) -> bool:
    """True when ``value`` is a valid CNPJ or CPF."""
    return is_valid_cnpj(value) or is_valid_cpf(value)


def format_cnpj(value: str) -> str:
    """Mask a CNPJ as ``12.ABC.345/01DE-35``; raises ValueError on a malformed value."""
    v = normalize_cnpj(value)
    if not _CNPJ_RE.fullmatch(v):
        raise ValueError("CNPJ deve ter 14 caracteres")
    return f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}"


def format_cpf(value: str) -> str:
    """Mask a CPF as ``123.456.789-09``; raises ValueError on a malformed value."""
    v = normalize_cpf(value)
    if not _CPF_RE.fullmatch(v):
        raise ValueError("CPF deve ter 11 dígitos")
    return f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"
