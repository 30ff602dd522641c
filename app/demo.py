"""Demo data for DEV: a handful of realistic empresas of each regime, staff and contacts.

Idempotent: empresas are keyed by CNPJ, staff by e-mail. Empresas are registered through the
same service as the API (obligations assigned from the regime, current tarefas generated).
CNPJs are synthetic but valid (their check digits are computed, IN RFB 2.229/2024 rule),
including one alphanumeric CNPJ.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.document_requests.service import seed_templates
from app.empresas.service import create_empresa
from app.fiscal.cnpj import cnpj_check_digits
from app.fiscal.competencia import Competencia
from app.obligations.catalogue import current_competencia, sync_catalogue
from models import Contact, Empresa, Staff

__all__ = ["DEMO_EMPRESAS", "load_demo_data"]

STAFF = [
    ("Ana Souza", "ana.souza@escritorio.exemplo", "fiscal", "5511987650001"),
    ("Bruno Lima", "bruno.lima@escritorio.exemplo", "pessoal", "5511987650002"),
    ("Carla Dias", "carla.dias@escritorio.exemplo", "contabil", "5511987650003"),
]

# base12, razão social, regime, UF, IBGE, município, flags, anexos
DEMO_EMPRESAS: list[dict[str, Any]] = [
    {"base": "345678900001", "razao_social": "João Silva Eletricista MEI", "regime": "MEI",
     "uf": "SP", "ibge_code": "3550308", "municipio": "São Paulo", "is_service_provider": True},
    {"base": "456789010001", "razao_social": "Doces da Maria MEI", "regime": "MEI",
     "uf": "MG", "ibge_code": "3106200", "municipio": "Belo Horizonte", "has_employees": True},
    {"base": "112223330001", "razao_social": "Padaria Pão Bom Ltda", "regime": "SIMPLES",
     "uf": "SP", "ibge_code": "3550308", "municipio": "São Paulo", "has_employees": True,
     "anexos": ["I"]},
    {"base": "12ABC3450001", "razao_social": "Tech Serviços Digitais Ltda", "regime": "SIMPLES",
     "uf": "RJ", "ibge_code": "3304557", "municipio": "Rio de Janeiro", "has_employees": True,
     "is_service_provider": True, "anexos": ["III", "V"]},
    {"base": "223334440001", "razao_social": "Metalúrgica Forte Ltda EPP", "regime": "SIMPLES",
     "uf": "SP", "ibge_code": "3509502", "municipio": "Campinas", "has_employees": True,
     "anexos": ["II"]},
    {"base": "334445550001", "razao_social": "Consultoria Prisma Ltda", "regime": "PRESUMIDO",
     "uf": "SP", "ibge_code": "3550308", "municipio": "São Paulo", "has_employees": True,
     "has_withholdings": True, "is_service_provider": True},
    {"base": "445556660001", "razao_social": "Comercial Horizonte Ltda", "regime": "PRESUMIDO",
     "uf": "PR", "ibge_code": "4106902", "municipio": "Curitiba", "has_employees": True},
    {"base": "556667770001", "razao_social": "Indústria Atlântica S.A.", "regime": "REAL",
     "uf": "SC", "ibge_code": "4205407", "municipio": "Florianópolis", "has_employees": True,
     "has_withholdings": True},
]  # fmt: skip


def demo_cnpj(base12: str) -> str:
    """A valid CNPJ from a 12-character base."""
    return base12 + cnpj_check_digits(base12)


def load_demo_data(session: Session) -> dict[str, int]:
    """Insert what is missing; returns how many rows were created."""
    sync_catalogue(session, actor="demo-data")
    seed_templates(session)
    created = {"staff": 0, "empresas": 0, "contacts": 0}
    staff_ids = []
    for name, email, dept, phone in STAFF:
        row = session.scalar(select(Staff).where(Staff.email == email))
        if row is None:
            row = Staff(name=name, email=email, department=dept, phone=phone)
            session.add(row)
            session.flush()
            created["staff"] += 1
        staff_ids.append(row.id)
    for i, spec in enumerate(DEMO_EMPRESAS):
        cnpj = demo_cnpj(spec["base"])
        emp = session.scalar(select(Empresa).where(Empresa.cnpj == cnpj))
        if emp is not None:
            continue
        fields = {k: v for k, v in spec.items() if k != "base"}
        # the real registration path: obligations assigned from the regime, tarefas generated
        emp = create_empresa(
            session,
            fields={
                "cnpj": cnpj,
                "opened_on": date(2019 + i % 5, 1 + i, 1),
                "responsible_staff_id": staff_ids[0],
                "responsibles": dict(
                    zip(("fiscal", "pessoal", "contabil"), staff_ids, strict=True)
                ),
                **fields,
            },
            actor="demo-data",
            # clients of the office since January: this year's tarefas exist for the demo
            inicio=Competencia(current_competencia().year, 1),
        )
        created["empresas"] += 1
        slug = spec["razao_social"].split()[0].lower()
        session.add(
            Contact(
                empresa_id=emp.id,
                name=f"Financeiro {spec['razao_social'].split()[0]}",
                email=f"financeiro@{slug}.exemplo",
                phone=f"55119{i:04d}{i:04d}",
                role="financeiro",
                preferences={
                    "alerta_tarefa": ["email"],
                    "lembrete_solicitacao": ["email", "whatsapp"],
                    "guia_disponivel": ["email", "whatsapp"],
                },
            )
        )
        created["contacts"] += 1
    return created
