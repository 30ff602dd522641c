"""Message contexts the notification tests share (one client, one DAS guide)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

__all__ = ["GUIA_CONTEXT"]

# The context of template ``guia_disponivel`` for one DAS guide of Ana Souza's padaria.
GUIA_CONTEXT: dict[str, Any] = {
    "nome": "Ana Souza",
    "empresa": "Padaria Pão Quente Ltda",
    "imposto": "DAS",
    "competencia": "2026-05",
    "vencimento": date(2026, 6, 22),
    "valor": Decimal("1234.56"),
}
