"""Official XSDs (shipped by the ``nfelib`` wheel, package PL_010f) compiled once per thread.

Compiling a schema takes 3–25 ms; validating a 10 KiB document ~0.2 ms. Each
:class:`lxml.etree.XMLSchema` is compiled on first use and cached per thread (lxml validators
keep an error log, so one instance must not be shared between threads). Schemas import the
xmldsig schema by relative path from the same folder, so everything works offline.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path

from lxml import etree

__all__ = ["SCHEMAS", "schema_key", "get_schema", "schema_root"]


def schema_root() -> Path:
    """Folder of the installed nfelib package."""
    spec = find_spec("nfelib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pacote nfelib não instalado (schemas oficiais)")
    return Path(next(iter(spec.submodule_search_locations)))


# (root element, layout version, tpEvento or "") → schema path inside nfelib.
# Events: the cancel (110111) and CC-e (110110) packages restrict detEvento; any other event
# type validates against the generic envelope, whose detEvento is open (leiaute de eventos 1.00).
SCHEMAS: Mapping[tuple[str, str, str], str] = {
    ("nfeProc", "4.00", ""): "nfe/schemas/v4_0/procNFe_v4.00.xsd",
    ("NFe", "4.00", ""): "nfe/schemas/v4_0/nfe_v4.00.xsd",
    (
        "procEventoNFe",
        "1.00",
        "110111",
    ): "nfe_evento_cancel/schemas/v1_0/procEventoCancNFe_v1.00.xsd",
    ("evento", "1.00", "110111"): "nfe_evento_cancel/schemas/v1_0/eventoCancNFe_v1.00.xsd",
    ("procEventoNFe", "1.00", "110110"): "nfe_evento_cce/schemas/v1_0/procCCeNFe_v1.00.xsd",
    ("evento", "1.00", "110110"): "nfe_evento_cce/schemas/v1_0/CCe_v1.00.xsd",
    ("procEventoNFe", "1.00", "*"): "nfe_evento_generico/schemas/v1_0/procEventoNFe_v1.00.xsd",
    # CT-e events: the envelope's detEvento is open (xs:any), like the NF-e generic one.
    ("procEventoCTe", "4.00", "*"): "cte/schemas/v4_0/procEventoCTe_v4.00.xsd",
    ("eventoCTe", "4.00", "*"): "cte/schemas/v4_0/eventoCTe_v4.00.xsd",
    ("cteProc", "4.00", ""): "cte/schemas/v4_0/procCTe_v4.00.xsd",
    ("CTe", "4.00", ""): "cte/schemas/v4_0/cte_v4.00.xsd",
    ("CTeOS", "4.00", ""): "cte/schemas/v4_0/cteOS_v4.00.xsd",
    ("cteOSProc", "4.00", ""): "cte/schemas/v4_0/procCTeOS_v4.00.xsd",
    ("NFSe", "1.00", ""): "nfse/schemas/v1_0/NFSe_v1.01.xsd",
    ("NFSe", "1.01", ""): "nfse/schemas/v1_0/NFSe_v1.01.xsd",
}
# Layout versions the XSDs above cover, per root; older ones get the ``layout_antigo`` warning.
CURRENT_LAYOUT: Mapping[str, str] = {
    "nfeProc": "4.00",
    "NFe": "4.00",
    "cteProc": "4.00",
    "CTe": "4.00",
    "CTeOS": "4.00",
    "cteOSProc": "4.00",
    "procEventoCTe": "4.00",
    "eventoCTe": "4.00",
}

_local = threading.local()


def schema_key(root: str, version: str, tp_evento: str = "") -> str | None:
    """The schema path for a document, or None when no official schema applies."""
    return (
        SCHEMAS.get((root, version, tp_evento))
        or SCHEMAS.get((root, version, ""))
        or SCHEMAS.get((root, version, "*"))
    )


def get_schema(relpath: str) -> etree.XMLSchema:
    """The compiled schema for ``relpath`` (compiled once per thread)."""
    cache: dict[str, etree.XMLSchema] | None = getattr(_local, "schemas", None)
    if cache is None:
        cache = _local.schemas = {}
    schema = cache.get(relpath)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        doc = etree.parse(str(schema_root() / relpath), parser)
        schema = cache[relpath] = etree.XMLSchema(doc)
    return schema
