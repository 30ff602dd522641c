"""Precompiled, namespace-agnostic XPath tables for the fiscal layouts (rules as data).

Paths are written once without prefixes (``total/ICMSTot``) and compiled per namespace: the
official ones and "no namespace" (seen in real exports) at import, any other lazily — so reading
is namespace-agnostic while the XPaths stay prefix-based (~4x faster than ``local-name()``
tests). Each table (grouped by parent element for readability) compiles into ONE XPath,
``concat(string(a), SEP, string(b), …)``, that returns every field as one string split on a
private-use separator: one libxml2 call per part and no Python element proxies (~5x faster
than one XPath per field). Item counts ride in the same call as ``string(count(path))``; only
the CFOP set needs a node-set.
Field names follow the layouts: MOC NF-e 7.0 annex I (NF-e/NFC-e 4.00), MOC CT-e 4.00,
leiaute de eventos 1.00 (NT 2011.003), eventos do CT-e (MOC CT-e 4.00), NFS-e Nacional 1.00.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from lxml import etree

__all__ = [
    "ANCHOR_PATHS",
    "COUNT_FIELDS",
    "CTE_NS",
    "GROUPS",
    "NFE_NS",
    "NFSE_NS",
    "SEP",
    "SET_FIELDS",
    "TableXPath",
    "XPathSet",
    "compile_path",
    "select",
    "to_decimal",
    "xpaths_for",
]

NFE_NS = "http://www.portalfiscal.inf.br/nfe"
CTE_NS = "http://www.portalfiscal.inf.br/cte"
NFSE_NS = "http://www.sped.fazenda.gov.br/nfse"

Converter = Callable[[str], Any]


def _step(step: str, prefix: str) -> str:
    if step.startswith("@") or step in (".", "..", "*"):
        return step
    names = step.split("|")
    if len(names) == 1:
        return prefix + step
    return "*[" + " or ".join(f"self::{prefix}{n}" for n in names) + "]"


def compile_path(path: str, ns: str | None, *, fn: str = "") -> etree.XPath:
    """Compile ``a/b|c/@d`` for elements in namespace ``ns`` (None: no namespace)."""
    prefix = "n:" if ns else ""
    expr = "/".join(_step(s, prefix) for s in path.split("/"))
    if fn:
        expr = f"{fn}({expr})"
    return etree.XPath(expr, namespaces={"n": ns} if ns else None, smart_strings=False)


def select(xpath: etree.XPath, node: etree._Element) -> list[etree._Element]:
    """Evaluate a node-set XPath (typed helper: lxml's result type is a union)."""
    return cast(list[etree._Element], xpath(node))


def to_decimal(text: str) -> Decimal | None:
    """Decimal of a layout number ("1234.56"), None when empty or malformed."""
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _d(name: str) -> tuple[str, Converter]:
    return name, to_decimal


# Anchors: one node per document part, located from the root.
ANCHOR_PATHS: Mapping[str, str] = {
    "infNFe": "NFe/infNFe",
    "infNFe_bare": "infNFe",
    "protNFe": "protNFe/infProt",
    # Older sped-nfe Complements::cancelRegister appended the event return inside nfeProc.
    "embedded_ret": "retEvento/infEvento",
    "embedded_proc": "procEventoNFe/retEvento/infEvento",
    "infEvento": "evento/infEvento",
    "infEvento_bare": "infEvento",
    "retEvento": "retEvento/infEvento",
    # CT-e events (MOC CT-e 4.00, leiaute de eventos): procEventoCTe = eventoCTe + retEventoCTe;
    # some emitters append the event return (or the whole procEventoCTe) inside cteProc.
    "infEventoCTe": "eventoCTe/infEvento",
    "infEventoCTe_bare": "infEvento",
    "retEventoCTe": "retEventoCTe/infEvento",
    "embedded_ret_cte": "retEventoCTe/infEvento",
    "embedded_proc_cte": "procEventoCTe/retEventoCTe/infEvento",
    "infCte": "CTe|CTeOS/infCte",
    "infCte_bare": "infCte",
    "protCTe": "protCTe/infProt",
    "infNFSe": "infNFSe",
    "infDPS": "DPS/infDPS",
}

Spec = str | tuple[str, Converter]
_PROT: Mapping[str, Mapping[str, Spec]] = {
    ".": {
        "n_prot": "nProt",
        "c_stat": "cStat",
        "x_motivo": "xMotivo",
        "dh_recbto": "dhRecbto",
    },
}
# The groups NF-e, CT-e and NFS-e spell alike (same SEFAZ tags, same fields).
_ID: Mapping[str, Spec] = {"id": "@Id", "versao": "@versao"}
_EMIT: Mapping[str, Spec] = {"emit_cnpj": "CNPJ", "emit_cpf": "CPF", "emit_nome": "xNome"}
_EMIT_UF: Mapping[str, Spec] = {"emit_uf": "UF"}
_DEST: Mapping[str, Spec] = {"dest_cnpj": "CNPJ", "dest_cpf": "CPF", "dest_nome": "xNome"}
_EVENT: Mapping[str, Spec] = {  # an event's own fields, after its Id and chave
    "tp_amb": "tpAmb",
    "emit_cnpj": "CNPJ",
    "emit_cpf": "CPF",
    "dh_evento": "dhEvento",
    "tp_evento": "tpEvento",
    "n_seq_evento": "nSeqEvento",
}
# table → {group path relative to the anchor: {field: child name | (child name, converter)}}
GROUPS: Mapping[str, Mapping[str, Mapping[str, Spec]]] = {
    "infNFe": {
        ".": _ID,
        "ide": {
            "cuf": "cUF",
            "modelo": "mod",
            "serie": "serie",
            "numero": "nNF",
            "dh_emi": "dhEmi",
            "d_emi": "dEmi",  # layout 2.00
            "tp_nf": "tpNF",
            "tp_emis": "tpEmis",
            "tp_amb": "tpAmb",
            "fin_nfe": "finNFe",
        },
        "emit": _EMIT,
        "emit/enderEmit": _EMIT_UF,
        "dest": _DEST,
        "total/ICMSTot": {
            f"v_{n.lower()[1:]}": _d(n)
            for n in ("vNF", "vProd", "vICMS", "vST", "vIPI", "vPIS", "vCOFINS", "vDesc", "vFrete")
        },
    },
    "protNFe": {".": {"prot_chave": "chNFe", **_PROT["."]}},
    "infEvento": {
        ".": {"id": "@Id", "chave": "chNFe", **_EVENT},
        "detEvento": {
            "desc_evento": "descEvento",
            "n_prot_ref": "nProt",
            "x_correcao": "xCorrecao",
            "chave_substituta": "chNFeRef",
        },
    },
    "retEvento": {
        ".": {
            "prot_chave": "chNFe",
            "ret_tp_evento": "tpEvento",
            "c_stat": "cStat",
            "x_motivo": "xMotivo",
            "n_prot": "nProt",
            "dh_recbto": "dhRegEvento",
            "dest_cnpj": "CNPJDest",
            "dest_cpf": "CPFDest",
        },
    },
    "infEventoCTe": {
        ".": {"id": "@Id", "chave": "chCTe", **_EVENT},
        # detEvento holds one element per event type (evCancCTe, evCCeCTe, evPrestDesacordo, …)
        "detEvento/*": {
            "desc_evento": "descEvento",
            "n_prot_ref": "nProt",
            "x_correcao": "infCorrecao/valorAlterado",
        },
    },
    "retEventoCTe": {
        ".": {
            "prot_chave": "chCTe",
            "ret_tp_evento": "tpEvento",
            "c_stat": "cStat",
            "x_motivo": "xMotivo",
            "n_prot": "nProt",
            "dh_recbto": "dhRegEvento",
        },
    },
    "infCte": {
        ".": _ID,
        "ide": {
            "cuf": "cUF",
            "modelo": "mod",
            "serie": "serie",
            "numero": "nCT",
            "dh_emi": "dhEmi",
            "tp_amb": "tpAmb",
            "tp_emis": "tpEmis",
            "cfop": "CFOP",
        },
        "ide/toma3|toma4": {"toma": "toma", "toma4_cnpj": "CNPJ", "toma4_cpf": "CPF"},
        "emit": _EMIT,
        "emit/enderEmit": _EMIT_UF,
        "dest": _DEST,
        "rem": {"rem_cnpj": "CNPJ", "rem_cpf": "CPF"},
        "exped": {"exped_cnpj": "CNPJ", "exped_cpf": "CPF"},
        "receb": {"receb_cnpj": "CNPJ", "receb_cpf": "CPF"},
        "vPrest": {"v_tprest": _d("vTPrest"), "v_rec": _d("vRec")},
        "imp/ICMS/*": {"v_icms": _d("vICMS")},
    },
    "protCTe": {".": {"prot_chave": "chCTe", **_PROT["."]}},
    "infNFSe": {
        ".": {
            "id": "@Id",
            "versao": "@versao",
            "numero": "nNFSe",
            "c_stat": "cStat",
            "dh_recbto": "dhProc",
        },
        "emit": _EMIT,
        "emit/enderNac": {"emit_uf": "UF"},
        "valores": {"v_liq": _d("vLiq"), "v_iss": _d("vISSQN")},
    },
    "infDPS": {
        ".": {"tp_amb": "tpAmb", "dh_emi": "dhEmi", "serie": "serie", "n_dps": "nDPS"},
        "toma": _DEST,
        "valores/vServPrest": {"v_serv": _d("vServ")},
    },
}
# Item counts: ``count()`` inside the table's XPath, so no node-set reaches Python.
COUNT_FIELDS: Mapping[str, Mapping[str, str]] = {"infNFe": {"n_itens": "det"}}
# Fields that need a whole node-set: the set of CFOPs.
SET_FIELDS: Mapping[str, Mapping[str, str]] = {"infNFe": {"cfops": "det/prod/CFOP"}}


# Private-use characters: fiscal layouts only allow Latin-1 text (TString), and a value that
# contains SEP anyway is detected by the value count and read field by field instead.
SEP = "\ue000\ue001"


@dataclass(frozen=True, slots=True)
class TableXPath:
    """One compiled ``concat`` XPath for a table and the (field, converter) of each value."""

    xpath: etree.XPath
    fields: tuple[tuple[str, Converter | None], ...]
    singles: tuple[etree.XPath, ...]  # one XPath per field, for values containing SEP
    names: tuple[str, ...]  # the field names of ``fields``, in order
    converters: tuple[tuple[str, Converter], ...]  # the fields that have a converter

    def values(self, node: etree._Element) -> list[str]:
        """Every field's string value below ``node``, in ``fields`` order."""
        values = str(self.xpath(node)).split(SEP)
        if len(values) != len(self.fields) + 1:  # a value contained SEP: read one by one
            return [str(x(node)) for x in self.singles]
        return values


@dataclass(frozen=True, slots=True)
class XPathSet:
    """Every anchor, table and node-set XPath compiled for one namespace."""

    anchors: Mapping[str, etree.XPath]
    tables: Mapping[str, TableXPath]
    sets: Mapping[str, Mapping[str, etree.XPath]]


def _flatten(spec: Mapping[str, Mapping[str, Spec]]) -> list[tuple[str, str, Converter | None]]:
    out: list[tuple[str, str, Converter | None]] = []
    for group, fields in spec.items():
        for field, item in fields.items():
            child, conv = (item, None) if isinstance(item, str) else item
            out.append((field, child if group == "." else f"{group}/{child}", conv))
    return out


def _table(
    spec: Mapping[str, Mapping[str, Spec]], counts: Mapping[str, str], ns: str | None
) -> TableXPath:
    flat = _flatten(spec)
    prefix = "n:" if ns else ""
    nsmap = {"n": ns} if ns else None

    def relative(path: str) -> str:
        return "/".join(_step(s, prefix) for s in path.split("/"))

    parts = [f"string({relative(path)})" for _, path, _ in flat]
    parts += [f"string(count({relative(path)}))" for path in counts.values()]
    fields = [(field, conv) for field, _, conv in flat] + [(field, int) for field in counts]
    return TableXPath(
        etree.XPath(_concat(parts), namespaces=nsmap, smart_strings=False),
        tuple(fields),
        tuple(etree.XPath(p, namespaces=nsmap, smart_strings=False) for p in parts),
        tuple(field for field, _ in fields),
        tuple((field, conv) for field, conv in fields if conv is not None),
    )


def _concat(parts: list[str], width: int = 8) -> str:
    """``concat(p1, SEP, p2, SEP, …, pn, SEP)`` as a tree of concats of ``width`` arguments.

    libxml2's concat() copies the accumulated string once per argument (quadratic in the
    table's length): short concats joined by an outer one copy ~4x fewer bytes.
    """
    args = [arg for part in parts for arg in (part, f"'{SEP}'")]
    while len(args) > width:
        args = [
            f"concat({', '.join(chunk)})" if len(chunk) > 1 else chunk[0]
            for chunk in (args[i : i + width] for i in range(0, len(args), width))
        ]
    return f"concat({', '.join(args)})"


def _build(ns: str | None) -> XPathSet:
    anchors = {name: compile_path(path, ns) for name, path in ANCHOR_PATHS.items()}
    tables = {
        table: _table(spec, COUNT_FIELDS.get(table, {}), ns) for table, spec in GROUPS.items()
    }
    sets = {
        table: {name: compile_path(path, ns) for name, path in spec.items()}
        for table, spec in SET_FIELDS.items()
    }
    return XPathSet(anchors, tables, sets)


# Compiled once at import for the official namespaces and for documents without one.
_PRECOMPILED: Mapping[str | None, XPathSet] = {
    ns: _build(ns) for ns in (NFE_NS, CTE_NS, NFSE_NS, None)
}
_build_other = functools.lru_cache(maxsize=4)(_build)


def xpaths_for(ns: str | None) -> XPathSet:
    """The compiled XPaths for a root namespace (other namespaces: compiled, small cache)."""
    found = _PRECOMPILED.get(ns)
    return found if found is not None else _build_other(ns)
