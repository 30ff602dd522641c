"""`contab restore | backup-status | backup-prune | backup-hold | backup-verify`.

Runbook: docs/backup.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["add_backup_commands"]


def _progress(msg: str) -> None:
    print(f"… {msg}", file=sys.stderr, flush=True)


def _context() -> tuple[Any, Any, Any, Any]:
    from app.backup.target import get_backup_target
    from app.db import get_sessionmaker
    from app.settings import get_settings
    from app.storage import get_storage

    s = get_settings()
    return get_sessionmaker(), s, get_backup_target(s), get_storage()


def _print(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore by date (new database), by empresa and/or by module (into the live database)."""
    from app.backup.restore import restore_date
    from app.backup.rows import restore_rows

    sessions, s, target, data = _context()
    if args.empresa is None and args.module is None:
        if args.date is None:
            print("Informe --date, --empresa ou --module (veja docs/backup.md).", file=sys.stderr)
            return 2
        summary = restore_date(
            sessions, s, target, data, day=args.date, database=args.database,
            force_live=args.force_live, dry_run=args.dry_run, progress=_progress,
        )  # fmt: skip
        _print(summary)
        if summary["passos"] and not args.dry_run:
            print("\nPara passar a usar o banco restaurado:\n" + "\n".join(summary["passos"]))
    else:
        cnpj = "".join(ch for ch in args.empresa if ch.isalnum()) if args.empresa else None
        summary = restore_rows(
            sessions, s, target, data, day=args.date, cnpj=cnpj, module=args.module,
            overwrite=args.overwrite, dry_run=args.dry_run, progress=_progress,
        )  # fmt: skip
        _print(summary)
    bad = summary["arquivos"]["corrompidos"]
    if bad:
        names = ", ".join(b["chave"] for b in bad)
        print(f"ERRO: objetos do backup corrompidos (não restaurados): {names}", file=sys.stderr)
        return 1
    return 0


def cmd_status(_: argparse.Namespace) -> int:
    """Catalogue of the last backups and the age of the last good one."""
    from app.backup.verify import backup_status

    sessions, s, target, _data = _context()
    with sessions() as session:
        status = backup_status(session, now=datetime.now(UTC))
    status["dias_no_destino"] = target.days()
    _print(status)
    return 0 if status["ultimo_bom"] else 1


def cmd_prune(args: argparse.Namespace) -> int:
    """Apply the retention policy now."""
    from app.backup.retention import Policy, prune

    sessions, s, target, _data = _context()
    today = datetime.now(ZoneInfo(s.OFFICE_TIMEZONE)).date()
    policy = Policy(s.BACKUP_KEEP_DAILY, s.BACKUP_KEEP_MONTHLY_YEARS)
    _print(prune(sessions, target, today=today, policy=policy, actor="cli", dry_run=args.dry_run))
    return 0


def cmd_hold(args: argparse.Namespace) -> int:
    """Put or lift a legal hold on one day's backup."""
    from app.backup.restore import resolve_day
    from app.backup.retention import legal_hold
    from app.platform import audit

    sessions, _s, target, _data = _context()
    day = resolve_day(target, args.date)
    legal_hold(target, day, reason=args.reason or "", release=args.release)
    with sessions.begin() as session:
        audit.record(
            session,
            actor="cli",
            action="backup_retencao_legal_" + ("removida" if args.release else "aplicada"),
            entity="backup",
            entity_id=day,
            reason=args.reason,
        )
    print(f"Retenção legal {'removida de' if args.release else 'aplicada a'} {day}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Restore drill of the latest (or a given) backup; non-zero when it fails."""
    from app.backup.verify import verify_backup

    sessions, s, target, _data = _context()
    result = verify_backup(sessions, s, target, day=args.date, sample=args.sample, alert=False)
    _print(result)
    return 0 if result["ok"] else 1


def add_backup_commands(sub: Any) -> None:
    """Register the backup sub-commands on the `contab` parser."""
    r = sub.add_parser("restore", help="restaura backup: por data, empresa ou módulo")
    r.add_argument("--date", help="dia do backup (AAAA-MM-DD); padrão: o mais recente")
    r.add_argument("--empresa", help="CNPJ: documentos, guias, tarefas… dessa empresa")
    r.add_argument("--module", help="guias|documentos|tarefas|solicitacoes|notificacoes|pedidos")
    r.add_argument("--database", help="nome do banco novo (padrão contab_restore_AAAAMMDD)")
    r.add_argument("--force-live", action="store_true", help="restaura SOBRE o banco em uso")
    r.add_argument("--overwrite", action="store_true", help="substitui linhas em conflito")
    r.add_argument("--dry-run", action="store_true", help="só lista o que mudaria")
    r.set_defaults(func=cmd_restore)
    sub.add_parser("backup-status", help="catálogo e idade do último backup bom").set_defaults(
        func=cmd_status
    )
    p = sub.add_parser("backup-prune", help="aplica a política de retenção")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_prune)
    h = sub.add_parser("backup-hold", help="retenção legal de um dia de backup")
    h.add_argument("--date", required=True)
    h.add_argument("--reason")
    h.add_argument("--release", action="store_true", help="remove a retenção legal")
    h.set_defaults(func=cmd_hold)
    v = sub.add_parser("backup-verify", help="testa a restauração do último backup")
    v.add_argument("--date")
    v.add_argument("--sample", type=int, default=50)
    v.set_defaults(func=cmd_verify)
