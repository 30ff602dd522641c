"""Baseline (a) of bench/ingest.py: hardened lxml parse + field extraction, nothing else.

(a) reads the fields the platform indexes from an NF-e — chave, modelo, série, número, emission
date, cUF, emitter and recipient CNPJ/CPF and names, emitter UF, vNF, vProd, ICMS, ST, IPI, PIS,
COFINS, discounts, item count, the CFOP set, protocol number, cStat and authorisation date — the
cheapest way lxml allows: one precompiled ``concat`` XPath (a single libxml2 call) plus one
node-set for the CFOPs. (a7) reads only 7 of them (the baseline of earlier runs, kept for
comparison). No validation, no checks, no mapping, no conversion.

A module of its own (not the bench's ``__main__``) so that pool workers, which never import
the parent's main module, can run :func:`baseline_chunk`.
"""

from __future__ import annotations

import zipfile
from typing import Any

_NS = {"n": "http://www.portalfiscal.inf.br/nfe"}
_INF = "n:NFe/n:infNFe/"
FIELDS = (
    *(_INF + p for p in ("@Id", "n:ide/n:mod", "n:ide/n:serie", "n:ide/n:nNF", "n:ide/n:dhEmi")),
    *(_INF + p for p in ("n:ide/n:cUF", "n:emit/n:CNPJ", "n:emit/n:CPF", "n:emit/n:xNome")),
    *(_INF + p for p in ("n:emit/n:enderEmit/n:UF", "n:dest/n:CNPJ", "n:dest/n:CPF")),
    _INF + "n:dest/n:xNome",
    *(
        _INF + "n:total/n:ICMSTot/n:" + v
        for v in ("vNF", "vProd", "vICMS", "vST", "vIPI", "vPIS", "vCOFINS", "vDesc")
    ),
    *("n:protNFe/n:infProt/n:" + p for p in ("nProt", "cStat", "dhRecbto")),
)
FIELDS7 = (
    _INF + "@Id",
    _INF + "n:emit/n:CNPJ",
    _INF + "n:dest/n:CNPJ",
    _INF + "n:ide/n:dhEmi",
    _INF + "n:total/n:ICMSTot/n:vNF",
    "n:protNFe/n:infProt/n:nProt",
    "n:protNFe/n:infProt/n:cStat",
)
SEP = "\ue000"
_compiled: dict[str, Any] = {}


def _xpaths() -> dict[str, Any]:
    if not _compiled:
        from lxml import etree

        def xp(expr: str) -> Any:
            return etree.XPath(expr, namespaces=_NS, smart_strings=False)

        parts = [f"string({p})" for p in FIELDS] + [f"string(count({_INF}n:det))"]
        _compiled["all"] = xp("concat(" + f",'{SEP}',".join(parts) + ")")
        _compiled["cfops"] = xp(f"{_INF}n:det/n:prod/n:CFOP/text()")
        _compiled["seven"] = [xp(f"string({p})") for p in FIELDS7]
    return _compiled


def baseline_one(data: bytes, parser: Any) -> tuple[list[str], set[str]]:
    """Parse one NF-e and read every field of that list (strings, unconverted)."""
    from lxml import etree

    xp = _xpaths()
    root = etree.fromstring(data, parser)
    return xp["all"](root).split(SEP), set(xp["cfops"](root))


def baseline_seven(data: bytes, parser: Any) -> list[str]:
    """Parse one NF-e and read 7 fields (the narrower baseline of earlier runs)."""
    from lxml import etree

    root = etree.fromstring(data, parser)
    return [x(root) for x in _xpaths()["seven"]]


_open: dict[str, zipfile.ZipFile] = {}


def baseline_chunk(path: str, names: list[str]) -> int:
    """(a) on a pool worker: read members of the zip at ``path`` (opened once per worker, as
    the flow's workers do), parse + extract each."""
    from app.fiscal.xmlsec import make_parser

    parser = make_parser()
    zf = _open.get(path) or _open.setdefault(path, zipfile.ZipFile(path))
    for name in names:
        baseline_one(zf.read(name), parser)
    return len(names)
