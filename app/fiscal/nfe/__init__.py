"""NF-e / NFC-e / CT-e / NFS-e documents: classify, extract key fields, validate.

Typical use (one parse per document, schemas compiled once per process/thread)::

    tree, doc = parse_bytes(data)      # raises InvalidDocument for unsafe/bad XML
    doc = validate(doc, tree)          # adds errors/warnings; doc.ok, doc.raise_for_errors()
    direction = match_company(doc, empresa_cnpj)   # "saida" | "entrada" | None
"""

from app.fiscal.nfe.model import (
    EVENT_KINDS,
    ISSUES,
    DocumentKind,
    DocumentStatus,
    Issue,
    ParsedDocument,
)
from app.fiscal.nfe.parse import extract, parse_bytes
from app.fiscal.nfe.validation import Direction, match_company, require_company, validate

__all__ = [
    "EVENT_KINDS",
    "ISSUES",
    "Direction",
    "DocumentKind",
    "DocumentStatus",
    "Issue",
    "ParsedDocument",
    "extract",
    "match_company",
    "parse_bytes",
    "require_company",
    "validate",
]
