"""Response/request models of the API (pydantic)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from app.api.deps import Paging
from app.errors import CATALOGUE
from app.fiscal.holidays_local import has_calendar

__all__ = [
    "DATE_ERROR",
    "ERROR_RESPONSES",
    "EmpresaOut",
    "ErrorOut",
    "IsoDate",
    "IsoDateTime",
    "Pagina",
    "PrincipalOut",
    "page",
    "pt_keys",
]

# pydantic's lax date parsing reads 0 or "0" as 1970-01-01, numbers as Unix timestamps and
# "20260510" as a datetime of 1970: an input date is ISO text or it is refused (422, this code).
DATE_ERROR = "data_invalida"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


# Dates a request may carry: anything outside is a typo (or a probe), and year 1 with an offset
# overflows on conversion to UTC (a 500, or a row PostgreSQL stores BC and nothing can read).
_YEARS = (1900, 2100)


def _refuse(formato: str) -> PydanticCustomError:
    return PydanticCustomError(
        DATE_ERROR, "Data inválida: use o formato {formato}.", {"formato": formato}
    )


def _iso_date(value: object) -> date:
    if type(value) is date:  # a Python caller (tests, services) passing a date
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:  # 2026-02-30, month 13 …
            pass
        else:
            if _YEARS[0] <= parsed.year <= _YEARS[1]:
                return parsed
    raise _refuse("AAAA-MM-DD")


def _iso_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                parsed.astimezone(UTC)  # 0001-01-01T00:00+00:01 overflows here, not later
        except (ValueError, OverflowError):
            pass
        else:
            if _YEARS[0] <= parsed.year <= _YEARS[1]:
                return parsed
    raise _refuse("AAAA-MM-DD ou AAAA-MM-DDTHH:MM:SS, com fuso opcional (Z, -03:00)")


# Use these for every date/datetime a request carries (query, path, form or JSON body).
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date written ``YYYY-MM-DD``; anything else is 422 ``data_invalida``."""
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
"""An ISO 8601 date/time (a bare ``YYYY-MM-DD`` is midnight); 422 ``data_invalida`` otherwise."""


class PrincipalOut(BaseModel):
    """The authenticated caller."""

    nome: str
    escopo: str
    empresa_id: int | None


class EmpresaOut(BaseModel):
    """An empresa as the API shows it."""

    id: int
    cnpj: str
    razao_social: str
    nome_fantasia: str | None
    regime: str
    uf: str
    codigo_ibge: str
    municipio: str | None
    ativa: bool
    calendario_municipal: bool = Field(
        description="O município tem calendário de feriados no catálogo (todas as capitais); "
        "falso: cadastre os feriados locais (contab holidays add / feriados)."
    )

    @classmethod
    def of(cls, e: Any) -> EmpresaOut:
        """From an ``Empresa`` row."""
        return cls(
            id=e.id, cnpj=e.cnpj, razao_social=e.razao_social, nome_fantasia=e.nome_fantasia,
            regime=e.regime, uf=e.uf, codigo_ibge=e.ibge_code, municipio=e.municipio,
            ativa=e.active, calendario_municipal=has_calendar(e.ibge_code),
        )  # fmt: skip


T = TypeVar("T")


class Pagina(BaseModel, Generic[T]):
    """Every listing of the API: one page of ``itens`` and the ``total`` that matched."""

    itens: list[T]
    total: int = Field(description="Quantos itens os filtros encontraram (todas as páginas).")
    limite: int = Field(description="Tamanho máximo da página pedida.")
    deslocamento: int = Field(description="Quantos itens foram pulados antes desta página.")


def page(itens: list[T], total: int, paging: Paging) -> Pagina[T]:
    """The envelope of one page."""
    return Pagina[T](
        itens=itens, total=total, limite=paging.limite, deslocamento=paging.deslocamento
    )


# Stored JSON the API returns as it is (issue lists, upload summaries, calculation memos, protocol
# details) keeps the keys it was written with — English in the storage formats of app/fiscal and
# app/documents, and in rows written before the API spoke pt-BR only: renamed on the way out, so
# old rows read like new ones and no data is migrated.
STORED_KEYS: dict[str, str] = {
    "code": "codigo",
    "message": "mensagem",
    "detail": "detalhe",
    "details": "detalhes",
    "stored_file_id": "arquivo_id",
    "provider_id": "id_no_provedor",
}


def pt_keys(value: Any) -> Any:
    """``value`` (stored JSON) with the keys of :data:`STORED_KEYS` in pt-BR, at any depth."""
    if isinstance(value, dict):
        return {STORED_KEYS.get(k, k): pt_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pt_keys(v) for v in value]
    return value


class ErrorBody(BaseModel):
    """A stable, machine-readable code and a pt-BR message (details when useful)."""

    codigo: str
    mensagem: str
    detalhes: dict[str, Any] | None = None


class ErrorOut(BaseModel):
    """Every error the API answers: ``{"erro": {"codigo", "mensagem", "detalhes"?}}``."""

    erro: ErrorBody


_STATUS = {
    400: "Requisição ilegível.",
    401: "Sem credenciais válidas.",
    403: "Fora do escopo do token.",
    404: "Objeto ou rota inexistente (a um token de cliente, também o objeto de outra empresa).",
    405: "Método não aceito nesta rota.",
    409: "Conflito com o estado atual.",
    422: "Entrada inválida.",
    500: "Erro interno inesperado.",
    502: "Falha num sistema externo.",
}


def _error(status: int) -> dict[str, Any]:
    codes = sorted(code for code, (st, _) in CATALOGUE.items() if st == status)
    listed = "\n".join(f"- `{code}`: {CATALOGUE[code][1]}" for code in codes)
    return {"model": ErrorOut, "description": f"{_STATUS[status]} Códigos:\n\n{listed}"}


# Documented on every route (OpenAPI): what any route may answer besides its success, with the
# codes of each status (app.errors.CATALOGUE).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {status: _error(status) for status in _STATUS}
