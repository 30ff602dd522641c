"""Baseline (a) of bench/ingest.py: hardened lxml parse + 7 precompiled XPaths, nothing else.

A module of its own (not the bench's ``__main__``) so that pool workers, which never import
the parent's main module, can run :func:`baseline_chunk`.
"""

from __future__ import annotations

from typing import Any

XPATHS: list[Any] = []


def baseline_one(data: bytes, parser: Any) -> None:
    """Parse one document and read 7 fields (the XPaths compile on first use)."""
    from lxml import etree

    if not XPATHS:
        ns = {"n": "http://www.portalfiscal.inf.br/nfe"}
        XPATHS.extend(
            etree.XPath(p, namespaces=ns, smart_strings=False)
            for p in (
                "string(n:NFe/n:infNFe/@Id)",
                "string(n:NFe/n:infNFe/n:emit/n:CNPJ)",
                "string(n:NFe/n:infNFe/n:dest/n:CNPJ)",
                "string(n:NFe/n:infNFe/n:ide/n:dhEmi)",
                "string(n:NFe/n:infNFe/n:total/n:ICMSTot/n:vNF)",
                "string(n:protNFe/n:infProt/n:nProt)",
                "string(n:protNFe/n:infProt/n:cStat)",
            )
        )
    root = etree.fromstring(data, parser)
    for xp in XPATHS:
        xp(root)


def baseline_chunk(chunk: list[bytes]) -> int:
    """(a) on a pool worker: parse + extract a chunk."""
    from app.fiscal.xmlsec import make_parser

    parser = make_parser()
    for data in chunk:
        baseline_one(data, parser)
    return len(chunk)
