"""Classify a fiscal XML and extract its key fields in one pass over precompiled XPaths.

Kinds by root element (namespace-agnostic; MOC NF-e 7.0, MOC CT-e 4.00, leiaute de eventos
1.00, NFS-e Nacional 1.00): ``nfeProc``/``NFe`` (modelo 55 → NF-e, 65 → NFC-e),
``procEventoNFe``/``evento``, ``cteProc``/``CTe``/``CTeOS``/``cteOSProc``, the CT-e events
``procEventoCTe``/``eventoCTe`` and the national ``NFSe``. Anything else is ``desconhecido``
with the error ``documento_nao_fiscal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from app.fiscal.nfe.model import DocumentKind, DocumentStatus, Issue, ParsedDocument, issue
from app.fiscal.nfe.xpaths import CTE_NS, NFSE_NS, XPathSet, select, xpaths_for
from app.fiscal.xmlsec import DEFAULT_MAX_BYTES, parse_untrusted

__all__ = [
    "CANCEL_EVENTS",
    "EVENT_REGISTERED_CSTAT",
    "ROOTS",
    "extract",
    "parse_bytes",
]

# MOC NF-e 7.0 annex "Tabela de códigos de erros e descrições de mensagens de erros":
# 100 Autorizado o uso, 150 Autorizado fora de prazo; 110/205/301/302/303 Uso denegado.
# MOC CT-e 4.00 uses the same codes for CT-e authorisation and denial.
PROTOCOL_STATUS: Mapping[str, DocumentStatus] = {
    "100": DocumentStatus.AUTHORISED,
    "150": DocumentStatus.AUTHORISED,
    # 101/151 "Cancelamento de NF-e homologado (fora de prazo)": sped-nfe's
    # Complements::cancelRegister rewrites protNFe with it after a cancellation.
    "101": DocumentStatus.CANCELLED,
    "151": DocumentStatus.CANCELLED,
    "110": DocumentStatus.DENIED,
    "205": DocumentStatus.DENIED,
    "301": DocumentStatus.DENIED,
    "302": DocumentStatus.DENIED,
    "303": DocumentStatus.DENIED,
}
# Leiaute de eventos (NT 2011.003 / NT 2014.002): 135 registered and linked, 136 registered
# but not linked, 155 cancellation accepted out of time.
EVENT_REGISTERED_CSTAT = frozenset({"135", "136", "155"})
# 110111 Cancelamento, 110112 Cancelamento por substituição (NT 2018.001, NFC-e).
CANCEL_EVENTS = frozenset({"110111", "110112"})
# NFS-e Nacional: 100 gerada, 101 de substituição, 102 decisão judicial, 103 avulsa.
NFSE_STATUS: Mapping[str, DocumentStatus] = {
    c: DocumentStatus.AUTHORISED for c in ("100", "101", "102", "103")
}
EVENT_STATUS: Mapping[str, DocumentStatus] = {
    c: DocumentStatus.EVENT_REGISTERED for c in EVENT_REGISTERED_CSTAT
}
# Prefix of the Id attribute before the chave (MOC: "NFe"+chave, "CTe"+chave, "NFS"+50 digits).
ID_PREFIX: Mapping[str, str] = {"nfe": "NFe", "cte": "CTe", "nfse": "NFS"}


@dataclass(frozen=True, slots=True)
class _Part:
    anchor: str  # key of ANCHORS
    fields: str  # key of FIELDS
    from_main: bool = False  # evaluate the anchor from the first part's node, not the root


@dataclass(frozen=True, slots=True)
class RootSpec:
    """How to read one root element."""

    family: str  # nfe | evento | cte | nfse
    parts: tuple[_Part, ...]
    status: Mapping[str, DocumentStatus]


_NFE_PROC = (_Part("infNFe", "infNFe"), _Part("protNFe", "protNFe"))
_CTE_PROC = (_Part("infCte", "infCte"), _Part("protCTe", "protCTe"))
ROOTS: Mapping[str, RootSpec] = {
    "nfeProc": RootSpec("nfe", _NFE_PROC, PROTOCOL_STATUS),
    "NFe": RootSpec("nfe", (_Part("infNFe_bare", "infNFe"),), PROTOCOL_STATUS),
    "procEventoNFe": RootSpec(
        "evento", (_Part("infEvento", "infEvento"), _Part("retEvento", "retEvento")), EVENT_STATUS
    ),
    "evento": RootSpec("evento", (_Part("infEvento_bare", "infEvento"),), EVENT_STATUS),
    # MOC CT-e 4.00, eventos: procEventoCTe (eventoCTe + retEventoCTe) or a bare eventoCTe.
    "procEventoCTe": RootSpec(
        "evento_cte",
        (_Part("infEventoCTe", "infEventoCTe"), _Part("retEventoCTe", "retEventoCTe")),
        EVENT_STATUS,
    ),
    "eventoCTe": RootSpec(
        "evento_cte", (_Part("infEventoCTe_bare", "infEventoCTe"),), EVENT_STATUS
    ),
    "cteProc": RootSpec("cte", _CTE_PROC, PROTOCOL_STATUS),
    "cteOSProc": RootSpec("cte", _CTE_PROC, PROTOCOL_STATUS),
    "CTe": RootSpec("cte", (_Part("infCte_bare", "infCte"),), PROTOCOL_STATUS),
    "CTeOS": RootSpec("cte", (_Part("infCte_bare", "infCte"),), PROTOCOL_STATUS),
    "NFSe": RootSpec(
        "nfse",
        (_Part("infNFSe", "infNFSe"), _Part("infDPS", "infDPS", from_main=True)),
        NFSE_STATUS,
    ),
}
_KIND_BY_FAMILY: Mapping[str, DocumentKind] = {
    "evento": DocumentKind.EVENTO_NFE,
    "evento_cte": DocumentKind.EVENTO_CTE,
    "cte": DocumentKind.CTE,
    "nfse": DocumentKind.NFSE,
}
_KIND_BY_MODELO: Mapping[str, DocumentKind] = {"55": DocumentKind.NFE, "65": DocumentKind.NFCE}
# Root names shared with other layouts: only these namespaces count (None = no namespace).
_ROOT_NAMESPACES: Mapping[str, frozenset[str | None]] = {
    "NFSe": frozenset({NFSE_NS, None}),
    "evento": frozenset({"http://www.portalfiscal.inf.br/nfe", None}),
    "eventoCTe": frozenset({CTE_NS, None}),
}


def _split_tag(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _read_part(xp: XPathSet, node: etree._Element, table: str, out: dict[str, Any]) -> None:
    """Read every field of ``table`` below ``node`` with the table's single XPath.

    Fields already in ``out`` (from an earlier part) are kept. Built with a comprehension and
    converted afterwards: most of a table's fields are empty or need no converter.
    """
    compiled = xp.tables[table]
    values = map(str.strip, compiled.values(node))
    found = {name: text for name, text in zip(compiled.names, values, strict=False) if text}
    for name, conv in compiled.converters:
        if name in found:
            found[name] = conv(found[name])
    if out:
        found = {name: value for name, value in found.items() if name not in out}
    out.update(found)
    for name, xpath in xp.sets.get(table, {}).items():
        out[name] = frozenset((n.text or "").strip() for n in select(xpath, node))


def _unknown(root: etree._Element, local: str) -> ParsedDocument:
    return ParsedDocument(
        kind=DocumentKind.DESCONHECIDO,
        root=local,
        version=root.get("versao", ""),
        status=DocumentStatus.UNPROTOCOLLED,
        errors=(issue("documento_nao_fiscal", f"elemento raiz <{local}>"),),
    )


_EVENT_FAMILIES = frozenset({"evento", "evento_cte"})
# family → (anchors of an event return appended inside the proc, the return's table)
_EMBEDDED: Mapping[str, tuple[tuple[str, str], str]] = {
    "nfe": (("embedded_ret", "embedded_proc"), "retEvento"),
    "cte": (("embedded_ret_cte", "embedded_proc_cte"), "retEventoCTe"),
}


def _embedded_cancellation(
    xp: XPathSet, root: etree._Element, fields: dict[str, Any], family: str
) -> Issue | None:
    (ret_anchor, proc_anchor), table = _EMBEDDED[family]
    for node in select(xp.anchors[ret_anchor], root) + select(xp.anchors[proc_anchor], root):
        event: dict[str, Any] = {}
        _read_part(xp, node, table, event)
        tp, cstat = event.get("ret_tp_evento"), event.get("c_stat")
        if tp in CANCEL_EVENTS and cstat in EVENT_REGISTERED_CSTAT:
            fields["cancel_tp_evento"] = tp
            fields["cancel_n_prot"] = event.get("n_prot", "")
            fields["cancel_dh"] = event.get("dh_recbto", "")
            return issue("cancelamento_embutido", f"tpEvento {tp}, cStat {cstat}")
    return None


def extract(tree: etree._ElementTree | etree._Element) -> ParsedDocument:
    """Classify a parsed document and read its key fields (no validation)."""
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    tag = root.tag
    ns, local = _split_tag(tag) if isinstance(tag, str) else (None, "")
    spec = ROOTS.get(local)
    allowed = _ROOT_NAMESPACES.get(local)
    if spec is None or (allowed is not None and ns not in allowed):
        return _unknown(root, local)
    xp = xpaths_for(ns)
    fields: dict[str, Any] = {}
    main: etree._Element | None = None
    parts_found = 0
    for part in spec.parts:
        base = main if part.from_main else root
        nodes = select(xp.anchors[part.anchor], base) if base is not None else []
        if not nodes:
            continue
        parts_found += 1
        if main is None:
            main = nodes[0]
        _read_part(xp, nodes[0], part.fields, fields)
    if main is None:
        return _unknown(root, local)
    if "d_emi" in fields:
        fields.setdefault("dh_emi", fields.pop("d_emi"))
    if "cfop" in fields:  # CT-e: one CFOP for the whole service
        fields["cfops"] = frozenset({fields.pop("cfop")})
    warnings: list[Issue] = []
    status = spec.status.get(fields.get("c_stat", ""), DocumentStatus.REJECTED)
    if "c_stat" not in fields:
        status = DocumentStatus.UNPROTOCOLLED
    prefix = ID_PREFIX.get(spec.family)
    doc_id = fields.get("id", "")
    if prefix and doc_id.startswith(prefix):
        fields["chave"] = doc_id[len(prefix) :]
    elif prefix and (fallback := fields.get("prot_chave") or doc_id):
        fields["chave"] = fallback  # validate() reports the Id mismatch
    if spec.family in _EVENT_FAMILIES and len(fields.get("chave", "")) == 44:
        fields["modelo"] = fields["chave"][20:22]
    # Each NF-e part is read below its own child of the root (NFe, protNFe; a bare NFe's
    # infNFe), so a root with no more children than parts found holds no appended event and
    # the two XPaths of _embedded_cancellation are skipped (the common, 2-child nfeProc).
    if (
        spec.family in _EMBEDDED
        and len(root) > parts_found
        and (embedded := _embedded_cancellation(xp, root, fields, spec.family))
    ):
        warnings.append(embedded)
        status = DocumentStatus.CANCELLED
    if fields.get("tp_amb") == "2":
        warnings.append(issue("ambiente_homologacao"))
    kind = _KIND_BY_FAMILY.get(spec.family) or _KIND_BY_MODELO.get(
        fields.get("modelo", ""), DocumentKind.NFE
    )
    version = fields.pop("versao", "") or root.get("versao", "") or main.get("versao", "")
    if spec.family in _EVENT_FAMILIES:
        parent = main.getparent()
        version = (parent.get("versao") if parent is not None else None) or version
    return ParsedDocument(
        kind=kind,
        root=local,
        version=version,
        status=status,
        fields=fields,
        warnings=tuple(warnings),
    )


def parse_bytes(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[etree._ElementTree, ParsedDocument]:
    """Parse untrusted bytes once (hardened) and extract; raises InvalidDocument on bad XML."""
    tree = parse_untrusted(data, max_bytes=max_bytes)
    return tree, extract(tree)
