"""Corpus (issue 3 item 8) through the service path: every public sample is processed without an
unhandled error; authorised, schema-valid 4.00 NF-e are indexed with the right fields.

Files are read in place from ../shared/corpus/nfe (never copied). When the folder is absent this
module defines no test (nothing is skipped).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sqlalchemy.orm import Session

from app.errors import AppError
from app.fiscal.nfe import DocumentStatus, parse_bytes, validate
from tests.services.test_documents_ingest import (
    CNPJ,
    doc_by_chave,
    files_of,
    make_empresa,
    process,
    upload,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/nfe"
OUTCOMES = {"indexado", "duplicado", "evento_aplicado", "evento_pendente", "quarentena"}

if CORPUS.is_dir():

    def test_every_corpus_file_goes_through_the_upload_path(db: Session) -> None:
        files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")
        by_emitter: dict[str, list[Path]] = defaultdict(list)
        expected = {}
        for path in files:
            try:
                tree, doc = parse_bytes(path.read_bytes())
                doc = validate(doc, tree)
            except AppError:
                by_emitter[CNPJ].append(path)
                continue
            emitter = doc.emit_doc if doc.emit_doc and len(doc.emit_doc) == 14 else CNPJ
            by_emitter[emitter].append(path)
            if (
                doc.root == "nfeProc" and doc.version == "4.00" and doc.ok
                and doc.status is DocumentStatus.AUTHORISED
            ):  # fmt: skip
                expected[path] = doc
        assert len(expected) >= 5
        checked = 0
        for cnpj, paths in by_emitter.items():
            emp = make_empresa(db, cnpj)
            up = upload(db, emp, [(p.name, p.read_bytes()) for p in paths])
            process(db, up)
            outcomes = {f.original_name: f for f in files_of(db, up)}
            assert {f.status for f in outcomes.values()} <= OUTCOMES
            for f in outcomes.values():
                assert f.status != "quarentena" or (f.error_code and f.error_message)
            for path in paths:
                if path not in expected:
                    continue
                doc = expected[path]
                assert outcomes[path.name].status in ("indexado", "duplicado"), path.name
                row = doc_by_chave(db, emp, str(doc.chave))
                assert row.emitter_doc == doc.emit_doc and row.direction == "saida"
                assert row.total == doc.fields["v_nf"] and row.status == "autorizada"
                assert row.protocol == doc.fields.get("n_prot")
                checked += 1
        assert checked == len(expected)
