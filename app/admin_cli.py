"""`contab` commands for the office's registers, each one a service call in one transaction.

contab holidays add|remove|list        local holidays (municipal, state, national closures)
contab obligations list|create|enable|disable|set|show
                                       custom obligations and per-empresa adjustments
contab tokens list|revoke              API tokens

Every change is audited by its service with the actor ``cli:<user>`` (or ``--actor``); output is
JSON (one object or a list) so scripts can read it. Errors print ``erro [codigo]: mensagem`` and
exit 1, like every other command.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from app.errors import InvalidInput

__all__ = ["add_admin_commands"]


def _actor(args: argparse.Namespace) -> str:
    return str(args.actor or f"cli:{getpass.getuser()}")


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


# Output field names (pt-BR, like the API's JSON) for each view the services return.
_FIELDS: dict[str, dict[str, str]] = {
    "HolidayView": {"id": "id", "day": "dia", "name": "nome", "uf": "uf", "ibge_code": "ibge"},
    "ObligationView": {"id": "id", "code": "codigo", "name": "nome", "department": "departamento",
                       "custom": "personalizada", "active": "ativa"},
    "CompanyObligationView": {"id": "id", "code": "codigo", "source": "origem", "active": "ativa",
                              "valid_from": "vigencia_inicio", "valid_until": "vigencia_fim",
                              "overrides": "sobrescritas"},
    "TokenView": {"id": "id", "name": "nome", "prefix": "prefixo", "scope": "escopo",
                  "empresa_id": "empresa_id", "created_at": "criado_em", "expires_at": "expira_em",
                  "revoked_at": "revogado_em", "last_used_at": "usado_em"},
}  # fmt: skip


def _out(value: Any) -> Any:
    if isinstance(value, list):
        return [_out(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[type(value).__name__]
        return {names[k]: v for k, v in dataclasses.asdict(value).items()}
    return value


def _print(value: Any) -> None:
    print(json.dumps(_out(value), ensure_ascii=False, indent=2, default=_plain))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"data inválida (use AAAA-MM-DD): {text}") from exc


def _empresa_id(session: Any, cnpj: str) -> int:
    from sqlalchemy import select

    from app.errors import MISSING_EMPRESA
    from app.fiscal.cnpj import normalize_cnpj
    from models import Empresa

    eid = session.scalar(select(Empresa.id).where(Empresa.cnpj == normalize_cnpj(cnpj)))
    if eid is None:
        raise MISSING_EMPRESA.error()
    return int(eid)


# ---------------------------------------------------------------------------- holidays


def cmd_holidays(args: argparse.Namespace) -> int:
    """Register, remove or list local holidays."""
    from app.db import session_scope
    from app.obligations import holidays

    with session_scope() as session:
        if args.action == "add":
            row = holidays.add_holiday(
                session,
                day=args.day,
                name=args.name,
                uf=args.uf,
                ibge_code=args.ibge,
                actor=_actor(args),
            )
            out: Any = {"id": row.id, "dia": row.day, "nome": row.name, "uf": row.uf,
                        "ibge": row.ibge_code}  # fmt: skip
        elif args.action == "remove":
            out = holidays.remove_holiday(
                session, holiday_id=args.id, actor=_actor(args), reason=args.reason
            )
        else:
            out = holidays.list_holidays(session, year=args.year, uf=args.uf, ibge_code=args.ibge)
    _print(out)
    return 0


# ---------------------------------------------------------------------------- obligations


def _json_arg(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"JSON inválido: {exc}.", code="json_invalido") from exc
    if not isinstance(value, dict):
        raise InvalidInput("Informe um objeto JSON.", code="json_invalido")
    return value


def _rule_file(path: str) -> dict[str, Any]:
    raw = Path(path).read_text("utf-8")
    try:
        return tomllib.loads(raw) if path.endswith(".toml") else dict(json.loads(raw))
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"Arquivo de regra ilegível: {exc}.", code="obrigacao_invalida") from exc


def cmd_obligations(args: argparse.Namespace) -> int:
    """Custom obligations and per-empresa obligation adjustments."""
    from app.db import session_scope
    from app.fiscal.competencia import Competencia
    from app.obligations import custom

    with session_scope() as session:
        if args.action == "list":
            out: Any = custom.list_obligations(session, custom_only=args.custom)
        elif args.action == "create":
            oid = custom.create_custom_obligation(
                session, rule=_rule_file(args.file), actor=_actor(args)
            )
            out = {"id": oid}
        elif args.action in ("enable", "disable"):
            out = custom.set_custom_obligation_active(
                session,
                code=args.code,
                active=args.action == "enable",
                actor=_actor(args),
                reason=args.reason,
            )
        elif args.action == "set":
            row = custom.set_company_obligation(
                session,
                empresa_id=_empresa_id(session, args.cnpj),
                code=args.code,
                actor=_actor(args),
                overrides=_json_arg(args.overrides),
                active=args.active,
                valid_from=Competencia.parse(args.vigencia) if args.vigencia else None,
            )
            out = {"id": row.id, "codigo": args.code, "ativa": row.active,
                   "sobrescritas": row.overrides, "vigencia": row.valid_from}  # fmt: skip
        else:
            out = custom.list_company_obligations(
                session, empresa_id=_empresa_id(session, args.cnpj)
            )
    _print(out)
    return 0


# ---------------------------------------------------------------------------- tokens


def cmd_tokens(args: argparse.Namespace) -> int:
    """List or revoke API tokens."""
    from app.db import session_scope
    from app.platform import tokens

    with session_scope() as session:
        if args.action == "revoke":
            tokens.revoke_token(session, token_id=args.id, actor=_actor(args), reason=args.reason)
            out: Any = {"id": args.id, "revogado": True}
        else:
            out = tokens.list_tokens(session, include_revoked=args.all)
    _print(out)
    return 0


def add_admin_commands(sub: Any) -> None:
    """Add the register commands to the `contab` sub-parsers."""
    h = sub.add_parser("holidays", help="feriados locais cadastrados (auditados)")
    hs = h.add_subparsers(dest="action", required=True)
    a = hs.add_parser("add", help="cadastra um feriado (municipal, estadual ou nacional)")
    a.add_argument("--day", type=_day, required=True, help="AAAA-MM-DD")
    a.add_argument("--name", required=True)
    a.add_argument("--uf", help="feriado estadual (sem --ibge)")
    a.add_argument("--ibge", help="feriado municipal (código IBGE de 7 dígitos)")
    r = hs.add_parser("remove", help="remove um feriado cadastrado")
    r.add_argument("id", type=int)
    r.add_argument("--reason")
    ls = hs.add_parser("list", help="lista os feriados cadastrados")
    ls.add_argument("--year", type=int)
    ls.add_argument("--uf")
    ls.add_argument("--ibge")
    for p in (a, r, ls):
        p.add_argument("--actor", help="quem faz a alteração (padrão: cli:<usuário>)")
    h.set_defaults(func=cmd_holidays)

    o = sub.add_parser("obligations", help="obrigações personalizadas e ajustes por empresa")
    os_ = o.add_subparsers(dest="action", required=True)
    ol = os_.add_parser("list", help="lista as obrigações")
    ol.add_argument("--custom", action="store_true", help="só as personalizadas")
    oc = os_.add_parser("create", help="cria uma obrigação personalizada (arquivo TOML/JSON)")
    oc.add_argument("--file", required=True)
    toggles = []
    for name, text in (("enable", "reativa"), ("disable", "desativa")):
        t = os_.add_parser(name, help=f"{text} uma obrigação personalizada")
        t.add_argument("code")
        t.add_argument("--reason")
        toggles.append(t)
    oset = os_.add_parser("set", help="anexa, ajusta ou desliga uma obrigação de uma empresa")
    oset.add_argument("--cnpj", required=True)
    oset.add_argument("--code", required=True)
    oset.add_argument("--overrides", help='JSON, ex.: {"due_day": 5}')
    onoff = oset.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="active", action="store_const", const=True)
    onoff.add_argument("--off", dest="active", action="store_const", const=False)
    oset.add_argument("--vigencia", help="competência inicial (AAAA-MM) ao anexar")
    oshow = os_.add_parser("show", help="obrigações de uma empresa")
    oshow.add_argument("--cnpj", required=True)
    for p in (ol, oc, *toggles, oset, oshow):
        p.add_argument("--actor", help="quem faz a alteração (padrão: cli:<usuário>)")
    o.set_defaults(func=cmd_obligations)

    t = sub.add_parser("tokens", help="tokens de API")
    ts = t.add_subparsers(dest="action", required=True)
    tl = ts.add_parser("list", help="lista os tokens (sem o segredo)")
    tl.add_argument("--all", action="store_true", help="inclui os revogados")
    tr = ts.add_parser("revoke", help="revoga um token (auditado)")
    tr.add_argument("id", type=int)
    tr.add_argument("--reason", required=True)
    for p in (tl, tr):
        p.add_argument("--actor", help="quem faz a alteração (padrão: cli:<usuário>)")
    t.set_defaults(func=cmd_tokens)
