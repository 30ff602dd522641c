"""Result types of fiscal-document parsing, and the catalogue of issue codes.

An *issue* is a finding about a document that parsed as XML. Its severity is data
(:data:`ISSUES`): ``error`` means the document must be rejected (quarantined with the code),
``warning`` means it is kept and the operator is told. Why each one is what it is:

- errors — ``documento_nao_fiscal`` (nothing to book), ``chave_ausente`` / ``chave_invalida`` /
  ``chave_dv_invalido`` (SEFAZ rejects a wrong DV, rejection 236, so a wrong one means an edited
  or forged file), ``chave_inconsistente`` (Id, protocol and content disagree: MOC 7.0 rejections
  502/539/…), ``xsd_invalido`` (SEFAZ validates every document against the XSD before
  authorising it, rejection 225: a schema-invalid file was altered after authorisation),
  ``estrutura_invalida`` (an old layout, which no shipped XSD covers, lacking the fields every
  layout carries: nothing reliable to book).
- warnings — ``layout_antigo`` (3.10 and older, in the wrapper, the signed part or the
  protocol: the 4.00 XSD does not apply, structural checks replace it, content is read
  anyway), ``xsd_indisponivel`` (no official schema shipped for this kind/version),
  ``conteudo_reindentado`` (whitespace between tags: the signature digest no longer matches, but
  the fiscal content is intact), ``ambiente_homologacao`` (tpAmb 2: no fiscal value),
  ``cancelamento_embutido`` (a cancellation event appended inside nfeProc, as sped-nfe does;
  the status becomes ``cancelada``), ``sem_namespace`` (root without the official namespace, as
  some exports write it: validated against the XSD on a namespaced copy).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.errors import InvalidDocument

__all__ = [
    "EVENT_KINDS",
    "ISSUES",
    "DocumentKind",
    "DocumentStatus",
    "Issue",
    "ParsedDocument",
    "issue",
]


class DocumentKind(StrEnum):
    """What a document is (the wrapper — proc or bare — is in ``ParsedDocument.root``)."""

    NFE = "nfe"  # modelo 55
    NFCE = "nfce"  # modelo 65
    EVENTO_NFE = "evento_nfe"  # procEventoNFe / evento (cancelamento, CC-e, …)
    EVENTO_CTE = "evento_cte"  # procEventoCTe / eventoCTe (cancelamento, CC-e, desacordo, …)
    CTE = "cte"  # modelo 57 / 67 (CTe, CTeOS, cteProc)
    NFSE = "nfse"  # NFS-e padrão nacional
    DESCONHECIDO = "desconhecido"


# Kinds that are events about a document (recorded in fiscal_events, applied by chave).
EVENT_KINDS = frozenset({DocumentKind.EVENTO_NFE, DocumentKind.EVENTO_CTE})


class DocumentStatus(StrEnum):
    """Authorisation state as far as the file itself proves it."""

    AUTHORISED = "autorizada"
    DENIED = "denegada"
    CANCELLED = "cancelada"
    UNPROTOCOLLED = "sem_protocolo"
    REJECTED = "rejeitada"  # a protocol/return with a cStat that is neither of the above
    EVENT_REGISTERED = "evento_registrado"  # events: cStat 135/136/155


# code → (severity, pt-BR message shown to operators)
ISSUES: Mapping[str, tuple[str, str]] = {
    "documento_nao_fiscal": ("error", "XML não é um documento fiscal reconhecido."),
    "chave_ausente": ("error", "Documento sem chave de acesso."),
    "chave_invalida": ("error", "Chave de acesso mal formada."),
    "chave_dv_invalido": ("error", "Dígito verificador da chave de acesso não confere."),
    "chave_inconsistente": ("error", "Chave de acesso não confere com o conteúdo do documento."),
    "xsd_invalido": ("error", "Documento não segue o schema oficial (XSD)."),
    "layout_antigo": ("warning", "Leiaute antigo: validação de schema 4.00 não aplicada."),
    "estrutura_invalida": (
        "error",
        "Documento de leiaute antigo sem os campos essenciais (chave, emitente, emissão).",
    ),
    "xsd_indisponivel": ("warning", "Não há schema oficial disponível para este documento."),
    "conteudo_reindentado": (
        "warning",
        "Conteúdo reindentado após a assinatura: a assinatura digital não confere mais.",
    ),
    "ambiente_homologacao": ("warning", "Documento emitido em homologação: sem valor fiscal."),
    "cancelamento_embutido": (
        "warning",
        "Evento de cancelamento anexado dentro do nfeProc/cteProc.",
    ),
    "sem_namespace": (
        "warning",
        "XML sem o namespace oficial (validado com o namespace aplicado).",
    ),
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding: stable code, pt-BR message, optional detail."""

    code: str
    message: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        """Serialisable form for quarantine records and API answers."""
        out = {"code": self.code, "message": self.message}
        if self.detail:
            out["detail"] = self.detail
        return out


def issue(code: str, detail: str = "") -> Issue:
    """Build an Issue from the catalogue."""
    return Issue(code, ISSUES[code][1], detail)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A classified fiscal document and its key fields (see ``app.fiscal.nfe.extract``)."""

    kind: DocumentKind
    root: str  # local name of the root element: nfeProc, NFe, procEventoNFe, cteProc, …
    version: str
    status: DocumentStatus
    fields: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[Issue, ...] = ()
    errors: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    @property
    def chave(self) -> str | None:
        """The document's chave de acesso (for events: the chave the event refers to)."""
        value = self.fields.get("chave")
        return value or None

    @property
    def emit_doc(self) -> str | None:
        """Emitter (or event author) CNPJ, else CPF."""
        return self.fields.get("emit_cnpj") or self.fields.get("emit_cpf") or None

    @property
    def dest_doc(self) -> str | None:
        """Recipient CNPJ, else CPF."""
        return self.fields.get("dest_cnpj") or self.fields.get("dest_cpf") or None

    @property
    def competencia(self) -> str | None:
        """Issue year-month ``YYYY-MM`` from dhEmi/dEmi (events: dhEvento)."""
        value = self.fields.get("dh_emi") or self.fields.get("dh_evento") or ""
        return value[:7] if len(value) >= 7 else None

    def with_issues(self, issues: list[Issue], **changes: Any) -> ParsedDocument:
        """Copy with ``issues`` appended to errors/warnings by their catalogue severity."""
        if not issues and not changes:
            return self  # frozen: nothing to copy
        errors = [i for i in issues if ISSUES[i.code][0] == "error"]
        warnings = [i for i in issues if ISSUES[i.code][0] != "error"]
        if changes:
            return dataclasses.replace(
                self,
                errors=self.errors + tuple(errors),
                warnings=self.warnings + tuple(warnings),
                **changes,
            )
        # Direct construction: dataclasses.replace() introspects the fields on every call, and
        # validate() copies every document once.
        return type(self)(
            self.kind,
            self.root,
            self.version,
            self.status,
            self.fields,
            self.warnings + tuple(warnings),
            self.errors + tuple(errors),
        )

    def raise_for_errors(self) -> None:
        """Raise InvalidDocument carrying the first error code (and all issues) if any."""
        if self.errors:
            first = self.errors[0]
            raise InvalidDocument(
                first.message + (f" {first.detail}" if first.detail else ""),
                code=first.code,
                issues=[i.to_dict() for i in self.errors + self.warnings],
            )
