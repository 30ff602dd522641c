"""Bad input (issue 3 item 6): each file gets a stable code, stays in quarantine, the rest of the
upload is indexed, and nothing of a malicious file's payload leaks anywhere."""

from __future__ import annotations

import io
import stat
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.documents.reception import UploadLimits
from app.storage import get_storage
from models import StoredFile, Upload
from tests.services.test_documents_ingest import (
    CNPJ,
    OTHER,
    chave_of,
    doc_by_chave,
    files_of,
    make_empresa,
    process,
    upload,
)
from tests.support.generator import make_nfe

SECRET = "SEGREDO-XXE-4f1c9a"


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _bad_chave(xml: bytes) -> bytes:
    chave = chave_of(xml)
    wrong = chave[:-1] + str((int(chave[-1]) + 1) % 10)
    return xml.replace(chave.encode(), wrong.encode())


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "segredo.txt"
    path.write_text(SECRET)
    return path


def test_each_bad_file_is_quarantined_with_its_code_and_the_rest_is_indexed(
    db: Session, secret_file: Path
) -> None:
    emp = make_empresa(db)
    good1 = make_nfe(CNPJ, OTHER, numero=1, value=Decimal("10.00"))
    good2 = make_nfe(OTHER, CNPJ, numero=2, value=Decimal("20.00"))
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret_file}">]>'
        "<nfeProc>&x;</nfeProc>"
    ).encode()
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>'
    )
    cases: list[tuple[str, bytes, str]] = [
        ("malformado.xml", b"<nfeProc><NFe></nfeProc>", "xml_malformado"),
        ("xxe.xml", xxe, "xml_doctype_proibido"),
        ("bilhao.xml", laughs, "xml_doctype_proibido"),
        ("foto.xml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "nao_e_xml"),
        ("pedido.xml", b"<pedido><item>1</item></pedido>", "documento_nao_fiscal"),
        ("outra.xml", make_nfe(OTHER, "11444777000161", numero=3), "documento_de_outra_empresa"),
        ("chave.xml", _bad_chave(make_nfe(CNPJ, OTHER, numero=4)), "chave_dv_invalido"),
        ("grande.xml", b"<a>" + b"x" * 70_000 + b"</a>", "arquivo_muito_grande"),
    ]
    files = [("bom1.xml", good1)] + [(n, d) for n, d, _ in cases] + [("bom2.xml", good2)]
    limits = UploadLimits(max_file_bytes=64 * 1024, max_total_bytes=10 * 1024 * 1024)
    up = upload(db, emp, files, limits)
    result = process(db, up)
    assert result["status"] == "concluido_com_erros"
    rows = files_of(db, up)
    by_name = {f.original_name: f for f in rows}
    for name, _, code in cases:
        f = by_name[name]
        assert (f.status, f.error_code) == ("quarentena", code), name
        assert f.error_message and f.stored_file_id is not None  # kept, with the reason
        kept = db.get(StoredFile, f.stored_file_id)
        assert kept is not None and get_storage().exists(kept.storage_key)
    assert by_name["bom1.xml"].status == by_name["bom2.xml"].status == "indexado"
    assert doc_by_chave(db, emp, chave_of(good2)).direction == "entrada"
    assert result["erros"]["xml_doctype_proibido"] == 2
    # The XXE payload never reached any table.
    for table in ("upload_files", "fiscal_documents", "operational_logs", "uploads"):
        dump = " ".join(map(str, db.execute(text(f"SELECT * FROM {table}")).all()))
        assert SECRET not in dump, table


def test_zip_entries_are_checked_one_by_one(db: Session) -> None:
    emp = make_empresa(db)
    good = make_nfe(CNPJ, OTHER, numero=11)
    inner = _zip({"x.xml": make_nfe(CNPJ, OTHER, numero=12)})
    archive = _zip(
        {"ok/nota.xml": good, "../../etc/evil.xml": good, "/abs.xml": good, "inner.zip": inner},
        symlink="link.xml",
    )
    up = upload(db, emp, [("lote.zip", archive)])
    process(db, up)
    got = {f.original_name: (f.status, f.error_code) for f in files_of(db, up)}
    assert got == {
        "lote.zip/ok/nota.xml": ("indexado", None),
        "lote.zip/../../etc/evil.xml": ("quarentena", "zip_caminho_invalido"),
        "lote.zip//abs.xml": ("quarentena", "zip_caminho_invalido"),
        "lote.zip/inner.zip": ("quarentena", "zip_aninhado"),
        "lote.zip/link.xml": ("quarentena", "zip_link_simbolico"),
    }
    summary = db.get(Upload, up).summary  # type: ignore[union-attr]
    assert summary["zips"][0]["nome"] == "lote.zip"  # the archive itself is kept
    assert doc_by_chave(db, emp, chave_of(good)).status == "autorizada"


def test_zip_bomb_and_corrupt_zip_are_quarantined_whole(db: Session) -> None:
    emp = make_empresa(db)
    bomb = _zip({"zeros.xml": b"<a>" + b"0" * (20 * 1024 * 1024) + b"</a>"})
    corrupt = b"PK\x03\x04" + b"\x00" * 64
    good = make_nfe(CNPJ, OTHER, numero=21)
    up = upload(db, emp, [("bomba.zip", bomb), ("ruim.zip", corrupt), ("nota.xml", good)])
    process(db, up)
    got = {f.original_name: (f.status, f.error_code, f.stored_file_id is not None)
           for f in files_of(db, up)}  # fmt: skip
    assert got == {
        "bomba.zip": ("quarentena", "zip_bomba", True),
        "ruim.zip": ("quarentena", "zip_invalido", True),
        "nota.xml": ("indexado", None, True),
    }


def test_over_the_total_limit_the_rejection_is_recorded_without_content(db: Session) -> None:
    emp = make_empresa(db)
    good = make_nfe(CNPJ, OTHER, numero=31)
    limits = UploadLimits(max_file_bytes=64 * 1024, max_total_bytes=len(good) + 1000)
    up = upload(db, emp, [("nota.xml", good), ("excesso.xml", b"<a>" + b"y" * 5000 + b"</a>")],
                limits)  # fmt: skip
    process(db, up)
    ok, over = files_of(db, up)
    assert ok.status == "indexado"
    assert (over.status, over.error_code, over.stored_file_id) == (
        "quarentena", "limite_total_excedido", None,
    )  # fmt: skip
    assert "não armazenado" in (over.error_message or "")
    # its download link says why there is nothing to download (not a 500, not a broken link)
    from app.documents.admin import upload_file_download_url
    from app.errors import NotFound

    with pytest.raises(NotFound) as err:
        upload_file_download_url(db, storage=get_storage(), upload_id=up, position=over.position,
                                 expires_in=60)  # fmt: skip
    assert err.value.code == "sem_conteudo"
