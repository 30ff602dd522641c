"""Validate a parsed fiscal document: official XSD, chave DV and chave/content consistency.

Severity of each finding is data (``app.fiscal.nfe.model.ISSUES``; rationale in that module's
docstring). Consistency rules (MOC NF-e 7.0, rejections 236 wrong DV, 502 chave ≠ Id,
539/540 duplicity, 20x emitter): the chave in
``infNFe/@Id`` equals ``protNFe/infProt/chNFe``, and its CNPJ, AAMM, modelo, série, número,
cUF and tpEmis equal the document's own fields. Events: Id = "ID"+tpEvento+chave+nSeqEvento
(leiaute de eventos 1.00) and the return refers to the same chave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from typing import Any, Literal

from lxml import etree

from app.errors import InvalidDocument
from app.fiscal.chave import ChaveAcesso, checked_chave, parse_chave
from app.fiscal.cnpj import normalize_cnpj
from app.fiscal.nfe.model import EVENT_KINDS, DocumentKind, Issue, ParsedDocument, issue
from app.fiscal.nfe.schemas import CURRENT_LAYOUT, get_schema, schema_key
from app.fiscal.nfe.xpaths import CTE_NS, NFE_NS, NFSE_NS

__all__ = ["CHAVE_CHECKS", "Direction", "match_company", "require_company", "validate"]

Direction = Literal["saida", "entrada"]
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_NS_BY_KIND = {
    DocumentKind.NFE: NFE_NS,
    DocumentKind.NFCE: NFE_NS,
    DocumentKind.EVENTO_NFE: NFE_NS,
    DocumentKind.EVENTO_CTE: CTE_NS,
    DocumentKind.CTE: CTE_NS,
    DocumentKind.NFSE: NFSE_NS,
}
# MOC 7.0: infNFe/@Id = "NFe" + chave; MOC CT-e 4.00: infCte/@Id = "CTe" + chave.
_ID_PREFIX = {DocumentKind.NFE: "NFe", DocumentKind.NFCE: "NFe", DocumentKind.CTE: "CTe"}
_CHAVE_KINDS = frozenset({DocumentKind.NFE, DocumentKind.NFCE, DocumentKind.CTE, *EVENT_KINDS})
# Event Id = "ID" + tpEvento + chave + nSeqEvento, with 2 digits (NF-e, leiaute de eventos
# 1.00) or 3 digits (CT-e, MOC CT-e 4.00).
_EVENT_SEQ_WIDTH = {DocumentKind.EVENTO_NFE: 2, DocumentKind.EVENTO_CTE: 3}
# Children that emitters' libraries append to nfeProc/cteProc; not part of the proc schemas.
_EMBEDDED = frozenset({"retEvento", "procEventoNFe", "retEventoCTe", "procEventoCTe"})
_PROCS_WITH_EMBEDDED = frozenset({"nfeProc", "cteProc"})
# Wrappers whose first ``inf*`` child is the signed part (matched by local name, any namespace).
_SIGNED_WRAPPERS = frozenset({"NFe", "CTe", "CTeOS", "evento", "eventoCTe"})


def _doc_cnpj(f: Mapping[str, Any]) -> str:
    return str(f.get("emit_cnpj") or f.get("emit_cpf") or "").zfill(14)


def _aamm(f: Mapping[str, Any]) -> str:
    dh = str(f.get("dh_emi", ""))
    return dh[2:4] + dh[5:7] if len(dh) >= 7 else ""


DocValue = Callable[[Mapping[str, Any]], str]
KeyValue = Callable[[ChaveAcesso], str]
# (label shown to the operator, field present?, document value, value in the chave)
ChaveCheck = tuple[str, str, DocValue, KeyValue]
CHAVE_CHECKS: tuple[ChaveCheck, ...] = (
    ("chave do protocolo", "prot_chave", lambda f: f["prot_chave"], lambda c: c.chave),
    ("CNPJ/CPF do emitente", "emit_cnpj|emit_cpf", _doc_cnpj, lambda c: c.cnpj),
    ("ano/mês da emissão", "dh_emi", _aamm, lambda c: c.aamm),
    ("modelo", "modelo", lambda f: f["modelo"], lambda c: c.modelo),
    ("série", "serie", lambda f: f["serie"].zfill(3), lambda c: c.serie),
    ("número", "numero", lambda f: f["numero"].zfill(9), lambda c: c.numero),
    ("UF", "cuf", lambda f: f["cuf"], lambda c: c.cuf),
    ("tipo de emissão", "tp_emis", lambda f: f["tp_emis"], lambda c: c.tp_emis),
)
# Events: the author's CNPJ need not be the emitter (e.g. recipient events), so fewer checks.
EVENT_CHECKS: tuple[ChaveCheck, ...] = (CHAVE_CHECKS[0],)


def _split_needs(
    checks: tuple[ChaveCheck, ...],
) -> tuple[tuple[str, tuple[str, ...], DocValue, KeyValue], ...]:
    """The table with "field present?" split once (the checks run for every document)."""
    return tuple((label, tuple(needs.split("|")), doc, key) for label, needs, doc, key in checks)


_CHAVE_CHECKS_SPLIT = _split_needs(CHAVE_CHECKS)
_EVENT_CHECKS_SPLIT = _split_needs(EVENT_CHECKS)


def _agrees(f: Mapping[str, Any], key: str) -> bool:
    """True when every field CHAVE_CHECKS compares is present and equals its part of ``key``.

    The common case without the table's per-check calls: each field against its own slice of
    the chave (a joined string would let a part too long make up for its neighbour being too
    short); False sends the document through the table, which names each disagreeing field.
    """
    try:
        prot = f.get("prot_chave")
        return (
            f["cuf"] == key[0:2]
            and _aamm(f) == key[2:6]
            and _doc_cnpj(f) == key[6:20]
            and f["modelo"] == key[20:22]
            and f["serie"].zfill(3) == key[22:25]
            and f["numero"].zfill(9) == key[25:34]
            and f["tp_emis"] == key[34:35]
            and (not prot or prot == key)
        )
    except KeyError:
        return False


def _check_chave(parsed: ParsedDocument) -> list[Issue]:
    f = parsed.fields
    raw = f.get("chave")
    if not raw:
        return [issue("chave_ausente")]
    try:
        key = checked_chave(raw)
    except InvalidDocument as exc:
        return [issue(exc.code, raw)]
    out: list[Issue] = []
    is_event = parsed.kind in EVENT_KINDS
    if is_event or not _agrees(f, key):  # the table, for the precise finding(s)
        chave = parse_chave(key)
        checks = _EVENT_CHECKS_SPLIT if is_event else _CHAVE_CHECKS_SPLIT
        for label, needs, doc_value, chave_value in checks:
            if any(map(f.get, needs)) and (value := doc_value(f)) != chave_value(chave):
                out.append(issue("chave_inconsistente", f"{label}: documento {value!r}"))
    prefix = _ID_PREFIX.get(parsed.kind)
    if prefix and f.get("id") != prefix + key:
        out.append(issue("chave_inconsistente", f"Id {f.get('id', '')!r}"))
    if is_event and f.get("id"):
        seq = str(f.get("n_seq_evento", "")).zfill(_EVENT_SEQ_WIDTH[parsed.kind])
        expected = f"ID{f.get('tp_evento', '')}{key}{seq}"
        if f["id"] != expected:
            out.append(issue("chave_inconsistente", f"Id do evento {f['id']!r}"))
    return out


def _validate_without_embedded(schema: etree.XMLSchema, root: etree._Element) -> bool:
    """Validate with sped-nfe's appended events detached, then put them back.

    The common nfeProc (NFe + protNFe) skips the detaching entirely.
    """
    if len(root) <= 2 or etree.QName(root).localname not in _PROCS_WITH_EMBEDDED:
        return schema.validate(root)
    detached: list[tuple[int, etree._Element]] = []
    for idx, child in enumerate(root):
        if isinstance(child.tag, str) and etree.QName(child).localname in _EMBEDDED:
            detached.append((idx, child))
    for _, child in reversed(detached):
        root.remove(child)
    try:
        return schema.validate(root)
    finally:
        for idx, child in detached:
            root.insert(idx, child)


def _qualified_copy(root: etree._Element, ns: str) -> etree._Element:
    """A copy with the official namespace on every element (Signature: xmldsig)."""
    copy = deepcopy(root)
    signed = {el for sig in copy.iter("Signature") for el in sig.iter()}  # holds the proxies
    for el in list(copy.iter()):
        if isinstance(el.tag, str) and not el.tag.startswith("{"):
            el.tag = f"{{{DSIG_NS if el in signed else ns}}}{el.tag}"
    return copy


def _local(tag: str) -> str:
    return tag[tag.find("}") + 1 :]


def _signed_part(root: etree._Element) -> etree._Element | None:
    """The first ``inf*`` element below the root or its NFe/CTe/CTeOS/evento children.

    Document order, namespace-agnostic (a plain loop over the few children: ~5x cheaper than
    the equivalent ``local-name()`` XPath).
    """
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        local = _local(tag)
        if local.startswith("inf"):
            return child
        if local in _SIGNED_WRAPPERS:
            for grandchild in child:
                if isinstance(grandchild.tag, str) and _local(grandchild.tag).startswith("inf"):
                    return grandchild
    return None


def _has_signature(el: etree._Element) -> bool:
    """A ``Signature`` element (any namespace) beside ``el``."""
    parent = el.getparent()
    return parent is not None and any(
        isinstance(s.tag, str) and _local(s.tag) == "Signature" for s in parent
    )


def _reindented(el: etree._Element) -> bool:
    """Whitespace between tags (MOC 7.0 rejection 588 forbids it, so it was added later)."""
    for text in (el.text, el[0].tail if len(el) else None):
        if text is not None and not text.strip():
            return True
    return False


# Elements whose @versao names a layout too (besides the root and the signed part).
_PROTOCOLS = frozenset({"protNFe", "protCTe"})
# Fields every NF-e/NFC-e (MOC since layout 2.00) and CT-e layout carries; an old layout, which
# no shipped XSD covers, must at least have them to be booked (structural check).
_OLD_LAYOUT_EVENT: tuple[tuple[str, ...], ...] = (
    ("id",),
    ("chave",),
    ("tp_evento",),
    ("n_seq_evento",),
    ("dh_evento",),
)
_OLD_LAYOUT_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("id",),
    ("cuf",),
    ("modelo",),
    ("serie",),
    ("numero",),
    ("dh_emi",),
    ("emit_cnpj", "emit_cpf"),
)


def _layout_versions(parsed: ParsedDocument, root: etree._Element) -> set[str]:
    """Every layout version the document declares: wrapper, signed part and protocol."""
    versions = {parsed.version, root.get("versao", "")}
    signed = _signed_part(root)
    if signed is not None:
        versions.add(signed.get("versao", ""))
    for child in root:
        if isinstance(child.tag, str) and _local(child.tag) in _PROTOCOLS:
            versions.add(child.get("versao", ""))
    versions.discard("")
    return versions


def _check_old_layout(parsed: ParsedDocument, old: list[str]) -> list[Issue]:
    """``layout_antigo`` plus the structural checks that replace the XSD (none is shipped)."""
    out = [issue("layout_antigo", f"versão {', '.join(old)}")]
    f = parsed.fields
    required = _OLD_LAYOUT_EVENT if parsed.kind in EVENT_KINDS else _OLD_LAYOUT_REQUIRED
    missing = [alts[0] for alts in required if not any(f.get(a) for a in alts)]
    if missing:
        out.append(issue("estrutura_invalida", f"campos ausentes: {', '.join(missing)}"))
    return out


def _check_schema(parsed: ParsedDocument, root: etree._Element) -> list[Issue]:
    current = CURRENT_LAYOUT.get(parsed.root)
    if current:
        # MOC NF-e: nfeProc, NFe/infNFe and protNFe each carry @versao; a 3.10 wrapper around
        # a 4.00 body (or the reverse) is no 4.00 document either: every old layout is treated
        # alike, whichever part declares it.
        old = sorted(v for v in _layout_versions(parsed, root) if v != current)
        if old or not parsed.version:
            return _check_old_layout(parsed, old or ["?"])
    relpath = schema_key(parsed.root, parsed.version, str(parsed.fields.get("tp_evento", "")))
    if relpath is None:
        return [issue("xsd_indisponivel", f"<{parsed.root}> versão {parsed.version or '?'}")]
    out: list[Issue] = []
    target = root
    tag = root.tag
    if not isinstance(tag, str) or not tag.startswith("{"):
        out.append(issue("sem_namespace"))
        target = _qualified_copy(root, _NS_BY_KIND[parsed.kind])
    schema = get_schema(relpath)
    valid = _validate_without_embedded(schema, target)
    if not valid:
        log: Iterable[Any] = schema.error_log  # type: ignore[assignment]
        msgs = [f"linha {e.line}: {e.message}" for e in list(log)[:3]]
        out.append(issue("xsd_invalido", "; ".join(msgs)))
    return out


def validate(parsed: ParsedDocument, tree: etree._ElementTree | etree._Element) -> ParsedDocument:
    """Return ``parsed`` with XSD, chave and consistency findings added (no re-parse)."""
    if parsed.kind is DocumentKind.DESCONHECIDO:
        return parsed
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    found: list[Issue] = []
    if parsed.kind in _CHAVE_KINDS:
        found += _check_chave(parsed)
    main = _signed_part(root)
    if main is not None and _reindented(main) and _has_signature(main):
        found.append(issue("conteudo_reindentado"))
    found += _check_schema(parsed, root)
    return parsed.with_issues(found)


def _participants(parsed: ParsedDocument) -> set[str]:
    f = parsed.fields
    keys = ("dest_cnpj", "dest_cpf", "rem_cnpj", "exped_cnpj", "receb_cnpj", "toma4_cnpj")
    return {normalize_cnpj(str(f[k])) for k in keys if f.get(k)}


def match_company(parsed: ParsedDocument, cnpj: str) -> Direction | None:
    """'saida' when the company issued it, 'entrada' when it is the recipient, else None."""
    own = normalize_cnpj(cnpj)
    emit = parsed.emit_doc
    if emit and normalize_cnpj(emit) == own:
        return "saida"
    if own in _participants(parsed):
        return "entrada"
    return None


def require_company(parsed: ParsedDocument, cnpj: str) -> Direction:
    """Like match_company, but raise ``documento_de_outra_empresa`` for a foreign document."""
    direction = match_company(parsed, cnpj)
    if direction is None:
        raise InvalidDocument(
            "O documento não tem esta empresa como emitente nem como destinatária.",
            code="documento_de_outra_empresa",
            chave=parsed.chave,
        )
    return direction
