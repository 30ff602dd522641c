"""Render the pt-BR notification templates (subject, plain text and HTML) with Jinja2."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

import jinja2

from app.notify.base import FALHA_PERMANENTE, channel_error

__all__ = ["Rendered", "brl", "competencia", "data_br", "prazo_dias_uteis", "render"]

_CENT = Decimal("0.01")


def brl(value: Decimal | int | str) -> str:
    """Format money the Brazilian way: ``R$ 1.234,56`` (half-up to cents, never float)."""
    if isinstance(value, float):
        raise TypeError("valores monetários devem ser Decimal, não float")
    amount = Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"{sign}R$ {grouped},{cents}"


def data_br(value: date | datetime | str) -> str:
    """Format a date as ``dd/mm/aaaa`` (accepts ISO strings)."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")


def competencia(value: str | date) -> str:
    """Format a competência ``2026-05`` (or a date) as ``05/2026``."""
    if isinstance(value, date):
        return value.strftime("%m/%Y")
    if "/" in value:  # already "MM/YYYY"
        return value
    year, month = value[:7].split("-")
    return f"{month}/{year}"


def prazo_dias_uteis(days: int) -> str:
    """Say how far a due date is: ``hoje``, ``em 1 dia útil``, ``em 3 dias úteis``."""
    if days <= 0:
        return "hoje"
    return "em 1 dia útil" if days == 1 else f"em {days} dias úteis"


FILTERS = {
    "brl": brl,
    "data": data_br,
    "competencia": competencia,
    "prazo": prazo_dias_uteis,
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message: subject line, plain-text body and HTML body."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("app.notify", "templates"),
        # HTML templates are escaped (client names like "Pão & Cia" or hostile input);
        # text and subject templates are not HTML.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship with the code: compiled once per process, never re-checked on disk
        # (auto_reload stat()s each template and its parents on every render).
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


def render(template: str, context: Mapping[str, Any], *, subject: str = "") -> Rendered:
    """Render ``<template>.{subject,txt,html}.j2``; a missing variable is a permanent error."""
    try:
        text = _environment().get_template(f"{template}.txt.j2").render(context)
        html = _environment().get_template(f"{template}.html.j2").render(context)
        if not subject:
            subject_tpl = _environment().get_template(f"{template}.subject.j2")
            subject = " ".join(subject_tpl.render(context).split())
    except jinja2.TemplateNotFound as exc:
        raise channel_error(FALHA_PERMANENTE, f"Modelo inexistente: {exc.name}.") from exc
    except jinja2.UndefinedError as exc:
        raise channel_error(
            FALHA_PERMANENTE, f"Dados incompletos para o modelo {template}: {exc.message}."
        ) from exc
    return Rendered(subject=subject, text=text, html=html)
