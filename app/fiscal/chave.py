"""Chave de acesso (44 characters) of NF-e, NFC-e, CT-e and MDF-e.

Layout (MOC NF-e 7.0, item 5.4 "Chave de Acesso"; the CNPJ field accepts the alphanumeric CNPJ
from NT 2025.001): cUF(2) AAMM(4) CNPJ(14) mod(2) série(3) nNF(9) tpEmis(1) cNF(8) cDV(1).
cDV: modulo 11 over the first 43 characters with weights 2..9 repeated from the right, character
value ``ord(c) - 48``; DV 0 when the remainder is 0 or 1 (MOC worked example:
``5206043300991100250655012000000780026730161`` → 5). SEFAZ rejects a wrong DV (rejection 236).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import attrgetter, itemgetter

from app.errors import InvalidDocument
from app.fiscal.cnpj import mod11_dv

__all__ = [
    "CHAVE_FIELDS",
    "ChaveAcesso",
    "build_chave",
    "chave_dv",
    "checked_chave",
    "is_valid_chave",
    "parse_chave",
]

# (name, start, end) — the layout table of the MOC, as data.
CHAVE_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("cuf", 0, 2),
    ("aamm", 2, 6),
    ("cnpj", 6, 20),
    ("modelo", 20, 22),
    ("serie", 22, 25),
    ("numero", 25, 34),
    ("tp_emis", 34, 35),
    ("cnf", 35, 43),
    ("dv", 43, 44),
)
_CHAVE_RE = re.compile(r"[0-9]{6}[0-9A-Z]{12}[0-9]{26}")
# The layout table as precomputed slices and one attribute getter (a chave is split and joined
# for every document validated).
_SPLIT = itemgetter(*(slice(a, b) for _, a, b in CHAVE_FIELDS))
_JOIN = attrgetter(*(name for name, _, _ in CHAVE_FIELDS))
# Weights 2..9 applied from the rightmost of the 43 characters (MOC 5.4).
_WEIGHTS: tuple[int, ...] = tuple(2 + (i % 8) for i in range(43))[::-1]


@dataclass(frozen=True, slots=True)
class ChaveAcesso:
    """The fields of a chave de acesso, as the strings found in it."""

    cuf: str
    aamm: str
    cnpj: str
    modelo: str
    serie: str
    numero: str
    tp_emis: str
    cnf: str
    dv: str

    @property
    def chave(self) -> str:
        """The 44-character key."""
        return "".join(_JOIN(self))

    @property
    def competencia(self) -> str:
        """Year-month of issue as ``YYYY-MM`` (AAMM is 20YY)."""
        return f"20{self.aamm[:2]}-{self.aamm[2:]}"


def chave_dv(first43: str) -> int:
    """Check digit of the first 43 characters of a chave."""
    if len(first43) != 43:
        raise ValueError("a chave sem DV deve ter 43 caracteres")
    return mod11_dv(first43.upper(), _WEIGHTS)


def is_valid_chave(chave: str) -> bool:
    """True when ``chave`` is well-formed and its DV is right."""
    return bool(_CHAVE_RE.fullmatch(chave)) and chave_dv(chave[:43]) == int(chave[43])


def parse_chave(chave: str, *, check_dv: bool = True) -> ChaveAcesso:
    """Split a chave into its fields; raise InvalidDocument on a bad format or DV."""
    return ChaveAcesso(*_SPLIT(checked_chave(chave, check_dv=check_dv)))


def checked_chave(chave: str, *, check_dv: bool = True) -> str:
    """The chave as its 44 upper-case characters (``NFe``/``CTe`` prefix dropped); raise
    InvalidDocument on a bad format or DV."""
    value = chave.strip().upper()
    if value.startswith(("NFE", "CTE")):
        value = value[3:]
    if not _CHAVE_RE.fullmatch(value):
        raise InvalidDocument(
            "Chave de acesso mal formada: deve ter 44 caracteres.",
            code="chave_invalida",
            chave=chave,
        )
    if check_dv and chave_dv(value[:43]) != int(value[43]):
        raise InvalidDocument(
            "Dígito verificador da chave de acesso não confere.",
            code="chave_dv_invalido",
            chave=value,
        )
    return value


def build_chave(
    *,
    cuf: int | str,
    aamm: str,
    cnpj: str,
    modelo: int | str,
    serie: int | str,
    numero: int | str,
    tp_emis: int | str = 1,
    cnf: int | str,
) -> str:
    """Assemble a chave from its fields and append the computed DV."""
    parts = (
        str(cuf).zfill(2),
        aamm,
        cnpj.upper().zfill(14),
        str(modelo).zfill(2),
        str(serie).zfill(3),
        str(numero).zfill(9),
        str(tp_emis),
        str(cnf).zfill(8),
    )
    first43 = "".join(parts)
    if not re.fullmatch(r"[0-9]{6}[0-9A-Z]{12}[0-9]{25}", first43):
        raise ValueError(f"campos da chave fora do formato: {parts}")
    return first43 + str(chave_dv(first43))
