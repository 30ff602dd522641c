"""Mutated fiscal XML never crashes classification: every file ends as a row or a stable code.

``classify`` turns domain findings into quarantine codes; any other exception would fail the
whole batch task (and, after its retries, the upload). Valid documents of every kind the
generator builds (and the public corpus when ``../shared/corpus/nfe`` exists) are mutated the
way real files break — bytes flipped, truncated, elements dropped, duplicated or renamed,
values and attributes replaced, namespaces stripped — and each result must be a document, an
event, or a quarantine code of the catalogue with a message. A run of 20,000 such cases during
development found no crash; this keeps a deterministic sample of them in the suite.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.documents.classify import QUARANTINE_MESSAGES, Job, classify
from app.fiscal.nfe import parse_bytes
from app.fiscal.nfe.model import ISSUES
from tests.support.generator import embed_cancellation, make_cancel_event, make_nfe

EMIT = "11222333000181"
DEST = "99888777000136"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/nfe"
NOW = datetime(2026, 11, 29, tzinfo=UTC)
# Every code classify may answer: the validator's catalogue, classify's own, the parser's.
KNOWN_CODES = (
    set(ISSUES)
    | set(QUARANTINE_MESSAGES)
    | {"nao_e_xml", "xml_malformado", "xml_doctype_proibido", "arquivo_muito_grande"}
)
VALUES = ["", " ", "x", "9" * 60, "-1", "1e999", "NaN", "2026-13-45T99:99:99", "é中", "0" * 44]
TAGS = ["nfeProc", "NFe", "infNFe", "protNFe", "retEvento", "procEventoNFe", "evento", "CTe"]


def _seeds() -> list[bytes]:
    nfe = make_nfe(EMIT, DEST, "2026-03", numero=7, items=3, value=Decimal("100.00"))
    chave = parse_bytes(nfe)[1].chave
    assert chave
    cancel = make_cancel_event(chave)
    out = [nfe, make_nfe(DEST, EMIT, "2026-04", modelo=65), cancel]
    out.append(embed_cancellation(nfe, cancel))
    if CORPUS.is_dir():
        out += [p.read_bytes() for p in sorted(CORPUS.rglob("*.xml")) if p.stat().st_size < 300_000]
    return out


SEEDS = _seeds()


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    kind = rnd.randrange(8)
    if kind == 0 and data:
        raw = bytearray(data)
        for _ in range(rnd.randint(1, 5)):
            raw[rnd.randrange(len(raw))] = rnd.randrange(256)
        return bytes(raw)
    if kind == 1:
        return data[: rnd.randrange(len(data) + 1)]
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError:
        return data
    nodes = [n for n in root.iter() if isinstance(n.tag, str)]
    node = rnd.choice(nodes)
    parent = node.getparent()
    if kind == 2 and parent is not None:
        parent.remove(node)
    elif kind == 3:
        node.text = rnd.choice(VALUES)
    elif kind == 4:
        for name in list(node.attrib):
            node.attrib[name] = rnd.choice(["", "NFe" + "9" * 44, "x", "ID110111" + "1" * 46])
    elif kind == 5 and parent is not None:
        parent.append(copy.deepcopy(node))
    elif kind == 6:
        for n in nodes:
            if "}" in n.tag and rnd.random() < 0.5:
                n.tag = n.tag.split("}", 1)[1]
    elif kind == 7:
        node.tag = rnd.choice(TAGS)
    return etree.tostring(root, xml_declaration=rnd.random() < 0.5, encoding="UTF-8")


@settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    steps=st.integers(1, 3),
    empresa=st.sampled_from([EMIT, DEST, "00000000000000"]),
)
def test_mutated_documents_end_as_rows_or_stable_codes(seed: int, steps: int, empresa: str) -> None:
    rnd = random.Random(seed)
    data = rnd.choice(SEEDS)
    for _ in range(steps):
        data = _mutate(data, rnd)
    out = classify(Job(1, 1, data), cnpj=empresa, empresa_id=1, now=NOW)
    if out.status == "quarentena":
        assert out.error_code in KNOWN_CODES, out.error_code
        assert out.error_message and out.values is None
    else:
        assert out.status in ("documento", "evento") and out.error_code is None
        json.dumps(out.values)  # the row travels as JSON to the bulk insert
        assert out.values is not None and out.values["chave"] == out.chave
