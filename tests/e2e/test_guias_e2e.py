"""gerar-guias → enviar-guias → enviar-notificacoes through real workers; tracked link; reruns."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal as D
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.deployments import ENVIAR_GUIAS, ENVIAR_NOTIFICACOES, GERAR_GUIAS
from app.fiscal.calendar import get_calendar
from app.fiscal.competencia import Competencia
from app.fiscal.obligations import due_date, load_catalogue
from app.guides import ledger
from app.settings import get_settings
from app.storage.signing import sign
from models import Contact, Empresa, Guide, GuideEvent, Notification, Tarefa
from tests.e2e.conftest import run_and_wait
from tests.support.api import error_code
from tests.support.catalogue import catalogue_row

pytestmark = pytest.mark.e2e
# A competência whose guide is still payable today (gerar-guias marks past-due guides vencida).
TODAY = date.today()
COMP = str(Competencia.of(TODAY).prev())
DUE = due_date(load_catalogue().get("DAS"), Competencia.parse(COMP), get_calendar())
EMAIL = "financeiro@padaria.test"


def _seed() -> int:
    with session_scope() as s:
        e = Empresa(
            cnpj="11222333000181",
            razao_social="Padaria Pão Bom Ltda",
            regime="SIMPLES",
            uf="SP",
            ibge_code="3550308",
            anexos=["I"],
        )
        row = catalogue_row("DAS")
        s.add_all([e, row])
        s.flush()
        s.add(Contact(empresa_id=e.id, name="Maria", email=EMAIL))
        s.add(
            Tarefa(
                empresa_id=e.id,
                obligation_id=row.id,
                competencia=COMP,
                due_date=max(DUE, TODAY),
                target_date=max(DUE, TODAY),
                department="fiscal",
            )
        )
        for k in range(1, 13):
            ledger.set_entry(
                s,
                empresa_id=e.id,
                competencia=str(Competencia.parse(COMP).shift(-k)),
                anexo="I",
                source="historico",
                amount=D("20833.33") if k > 1 else D("20833.37"),
                actor="e2e",
            )
        ledger.set_entry(
            s, empresa_id=e.id, competencia=COMP, anexo="I", source="ajuste", amount=D("10000"),
            actor="e2e",
        )  # fmt: skip
        return e.id


def _counts() -> tuple[int, int, int]:
    with session_scope() as s:
        return (
            s.scalar(select(func.count()).select_from(Guide)) or 0,
            s.scalar(select(func.count()).select_from(Notification)) or 0,
            s.scalar(select(func.count()).select_from(GuideEvent)) or 0,
        )


def _wait_for_mail(folder: Path, since: float, timeout: float = 30) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p.read_bytes() for p in folder.glob("*.eml") if p.stat().st_mtime >= since]
        hits = [raw for raw in found if EMAIL.encode() in raw]
        if hits:
            return hits
        time.sleep(0.5)
    raise AssertionError("the SMTP sink received no guide e-mail")


def test_guides_generated_sent_and_opened(platform, clean_db) -> None:  # type: ignore[no-untyped-def]
    _seed()
    gen = run_and_wait(GERAR_GUIAS, {"competencia": COMP, "force": True})
    assert gen.state.name == "Completed", gen.state
    assert gen.work_pool_name == "guias"
    with session_scope() as s:
        g = s.scalar(select(Guide))
        assert g is not None and (g.status, g.amount) == ("pronta", D("492.40"))
        guide_id = g.id
    before = _counts()
    again = run_and_wait(GERAR_GUIAS, {"competencia": COMP, "force": True})
    assert again.state.name == "Completed" and _counts() == before  # nothing new, nothing sent

    started = time.time() - 1
    sent = run_and_wait(ENVIAR_GUIAS, {"competencia": COMP})
    assert sent.state.name == "Completed" and sent.work_pool_name == "guias"
    with session_scope() as s:
        n = s.scalar(select(Notification).where(Notification.template == "guia_disponivel"))
        assert n is not None and n.attachments
        link = n.context["link"]
    notify = run_and_wait(ENVIAR_NOTIFICACOES)
    assert notify.state.name == "Completed", notify.state
    mails = _wait_for_mail(platform.var_dir / "mail", started)
    msg = message_from_bytes(mails[0], policy=default_policy)
    pdfs = [p for p in msg.walk() if p.get_content_type() == "application/pdf"]  # type: ignore[attr-defined]
    assert pdfs and pdfs[0].get_content().startswith(b"%PDF-")
    assert "Guia DAS" in str(msg["Subject"]) or "DAS" in str(msg["Subject"])

    api = f"http://127.0.0.1:{platform.api_port}"
    path = urlsplit(link).path
    opened = httpx.get(api + path, headers={"User-Agent": "e2e-phone"}, follow_redirects=False)
    assert opened.status_code == 302, opened.text
    assert httpx.get(opened.headers["location"]).content.startswith(b"%PDF-")
    token = path.rsplit("/", 1)[-1]
    tampered = httpx.get(f"{api}/api/guias/abrir/{token[:-4]}AAAA", follow_redirects=False)
    assert tampered.status_code == 403 and error_code(tampered) == "link_invalido"
    secret = get_settings().APP_KEY.get_secret_value()
    old = sign(secret, f"guia:{guide_id}", expires_in=-60, extra={"g": guide_id, "m": "x"})
    expired = httpx.get(f"{api}/api/guias/abrir/{old}", follow_redirects=False)
    assert expired.status_code == 403 and error_code(expired) == "link_expirado"
    with session_scope() as s:
        g = s.get(Guide, guide_id)
        assert g is not None and g.status == "visualizada"
        views = list(s.scalars(select(GuideEvent).where(GuideEvent.kind == "visualizada")))
        assert len(views) == 1 and views[0].user_agent == "e2e-phone" and views[0].ip
        kinds = set(s.scalars(select(GuideEvent.kind).where(GuideEvent.guide_id == guide_id)))
        assert {"enfileirada", "enviada", "visualizada"} <= kinds

    after_send = _counts()
    rerun = run_and_wait(GERAR_GUIAS, {"competencia": COMP, "force": True})
    resend = run_and_wait(ENVIAR_GUIAS, {"competencia": COMP})
    assert rerun.state.name == resend.state.name == "Completed"
    assert _counts() == after_send  # running both again creates nothing and sends nothing
