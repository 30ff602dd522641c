"""The `contab` command: what an operator and a deploy pipeline run.

contab dev                     the whole platform locally (embedded defaults)
contab check                   refuse an unsafe configuration (lists every problem)
contab migrate [--dry-run]     apply migrations / print their SQL for the manual gate
contab deploy                  work pools + every deployment of prefect.yaml (idempotent)
contab workers pause|resume    pause the critical pools during a deploy (guide §12)
contab late-runs               late runs per pool
contab watch --minutes 30      the post-deploy watch: non-zero when a Prometheus alert fires
contab monitoring render       alert rules with the ALERT_* thresholds
contab smoke --url URL         post-deploy smoke test
contab create-token            an API token (office-wide or for one empresa)
contab demo-data               a handful of realistic empresas of each regime
contab holidays|obligations|tokens  registers: local holidays, custom obligations and
                               per-empresa adjustments, API tokens (app/admin_cli.py)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from app.errors import AppError, ConfigError

__all__ = ["main"]


def _settings():  # type: ignore[no-untyped-def]
    from app.settings import get_settings

    return get_settings()


def cmd_check(_: argparse.Namespace) -> int:
    """Validate the configuration of APP_ENV; non-zero with every problem listed."""
    from app.dbcheck import database_problems
    from app.settings import Settings

    s = Settings()
    problems = s.problems()
    db_problems = database_problems(s)  # MySQL/MariaDB: version, charset, collation, sql_mode
    if s.is_production:
        problems += db_problems
    if problems:
        print(f"Configuração de {s.APP_ENV} recusada:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 2
    print(f"Configuração de {s.APP_ENV}: ok")
    if not s.is_production:
        for line in db_problems:  # refused in production only
            print(f"  aviso: {line}")
    try:  # empresas whose município has no holiday calendar (a warning, not a refusal)
        from app.db import session_scope
        from app.obligations.calendar_coverage import calendar_warnings

        with session_scope() as session:
            warnings = calendar_warnings(session)
    except Exception as exc:  # noqa: BLE001 - database down or not migrated: config is still ok
        warnings = [f"calendários municipais não verificados ({type(exc).__name__})"]
    for line in warnings:
        print(f"  aviso: {line}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply (or print) migrations."""
    from app import migrate
    from app.dbcheck import ensure_database_safe

    ensure_database_safe(_settings())  # production never migrates an unfit MySQL database
    if args.dry_run:
        print(migrate.upgrade_sql(start=migrate.current()))
        return 0
    before = migrate.current()
    migrate.upgrade()
    print(f"Migrações aplicadas: {before or '(vazio)'} → {migrate.current()}")
    return 0


def cmd_deploy(_: argparse.Namespace) -> int:
    """Create/update pools and deployments."""
    from app.prefect_ops import deploy
    from app.settings import PROJECT_ROOT

    _settings()
    report = deploy(PROJECT_ROOT)
    print(json.dumps(report.__dict__, ensure_ascii=False, indent=2))
    return 0


def cmd_workers(args: argparse.Namespace) -> int:
    """Pause or resume pools."""
    from app.deployments import POOLS
    from app.prefect_ops import set_pools_paused

    pools = args.pools or list(POOLS)
    set_pools_paused(pools, args.action == "pause")
    print(f"Pools {'pausados' if args.action == 'pause' else 'retomados'}: {', '.join(pools)}")
    return 0


def cmd_late_runs(_: argparse.Namespace) -> int:
    """Print late runs per pool; non-zero when any pool has late runs."""
    from app.prefect_ops import late_runs

    late = late_runs()
    print(json.dumps(late))
    return 1 if any(late.values()) else 0


def cmd_smoke(args: argparse.Namespace) -> int:
    """Post-deploy smoke test."""
    from app.smoke import run_smoke

    ok, lines = run_smoke(args.url, timeout=args.timeout, run_flows=not args.skip_flows)
    for line in lines:
        print(line)
    return 0 if ok else 1


def cmd_create_token(args: argparse.Namespace) -> int:
    """Create an API token and print it once."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.platform.tokens import create_token
    from models import Empresa

    _settings()
    with session_scope() as session:
        empresa_id = None
        if args.cnpj:
            empresa_id = session.scalar(select(Empresa.id).where(Empresa.cnpj == args.cnpj))
            if empresa_id is None:
                print(f"Empresa {args.cnpj} não encontrada", file=sys.stderr)
                return 1
        row, plaintext = create_token(
            session,
            name=args.name,
            scope="empresa" if empresa_id else "office",
            empresa_id=empresa_id,
            ttl_days=args.ttl_days,
        )
    print(plaintext)
    return 0


def cmd_demo_data(_: argparse.Namespace) -> int:
    """Load demo empresas, contacts and staff (idempotent)."""
    from app.db import session_scope
    from app.demo import load_demo_data

    _settings()
    with session_scope() as session:
        summary = load_demo_data(session)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up now (the pipeline runs this before a production deploy)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from app.backup import run_backup
    from app.db import get_sessionmaker
    from app.storage import get_storage

    s = _settings()
    today = datetime.now(ZoneInfo(s.OFFICE_TIMEZONE)).date()
    summary = run_backup(get_sessionmaker(), get_storage(), s, today=today, force=args.force)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


MAX_RESTARTS = 5


def _dev_token(path: Path) -> str:
    """The office token `make dev` prints, kept in var/ (0600) and reused while valid."""
    from app.db import session_scope
    from app.platform.tokens import dev_office_token

    stored = path.read_text().strip() if path.exists() else None
    with session_scope() as session:
        token = dev_office_token(session, stored=stored)
    if token != stored:
        path.write_text(token)
        path.chmod(0o600)
    return token


def cmd_dev(args: argparse.Namespace) -> int:
    """Run everything locally until Ctrl-C; a crashed process is restarted (up to 5 times)."""
    from app.devstack import DevStack

    stack = DevStack(settings=_settings(), api_port=args.port)
    stop = {"now": False}

    def _handler(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _handler)
    try:
        stack.up()
        if not args.no_demo:
            cmd_demo_data(args)
        token = _dev_token(stack.var_dir / "dev-token")
        print(
            "\ncontab DEV no ar:\n"
            f"  API .............. http://127.0.0.1:{args.port}/api/docs\n"
            f"  Saúde ............ http://127.0.0.1:{args.port}/api/health\n"
            f"  Prefect UI ....... http://127.0.0.1:{stack.prefect_port}\n"
            f"  Caixa de e-mails . http://127.0.0.1:{stack.mail_http_port}\n"
            f"  Logs ............. {stack.supervisor.log_dir}\n"
            f"  Token do escritório (Authorize em /api/docs):\n    {token}\n"
            "Ctrl-C encerra tudo.",
            flush=True,
        )
        while not stop["now"]:
            for mp in list(stack.supervisor.processes):
                if mp.alive():
                    continue
                print(f"processo {mp.name} terminou ({mp.proc.returncode}); veja {mp.log_path}")
                if mp.restarts >= MAX_RESTARTS:
                    print(f"{mp.name} caiu {mp.restarts + 1} vezes; encerrando tudo.")
                    stop["now"] = True
                    break
                print(f"reiniciando {mp.name}…", flush=True)
                stack.supervisor.restart(mp)
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nEncerrando…", flush=True)
        stack.down()
        print("Tudo encerrado.")
    return 0


def cmd_dispatcher(_: argparse.Namespace) -> int:
    """Run the upload dispatcher alone (the API process runs one too)."""
    import signal
    import threading

    from app.api.dispatcher import make_dispatcher

    _settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("Despachante de uploads em execução (Ctrl+C encerra).", flush=True)
    make_dispatcher().run_forever(stop)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per operation)."""
    p = argparse.ArgumentParser(prog="contab", description="Operações do contab")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dev", help="sobe a plataforma local (padrões embutidos)")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--no-demo", action="store_true", help="não carrega dados de demonstração")
    d.set_defaults(func=cmd_dev)
    sub.add_parser("check", help="valida a configuração do ambiente").set_defaults(func=cmd_check)
    m = sub.add_parser("migrate", help="aplica as migrações do banco")
    m.add_argument("--dry-run", action="store_true", help="só imprime o SQL")
    m.set_defaults(func=cmd_migrate)
    sub.add_parser("deploy", help="pools e implantações do prefect.yaml").set_defaults(
        func=cmd_deploy
    )
    w = sub.add_parser("workers", help="pausa/retoma pools de workers")
    w.add_argument("action", choices=["pause", "resume"])
    w.add_argument("pools", nargs="*")
    w.set_defaults(func=cmd_workers)
    sub.add_parser("late-runs", help="execuções atrasadas por pool").set_defaults(
        func=cmd_late_runs
    )
    s = sub.add_parser("smoke", help="teste de fumaça pós-deploy")
    s.add_argument("--url", required=True)
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("--skip-flows", action="store_true")
    s.set_defaults(func=cmd_smoke)
    t = sub.add_parser("create-token", help="cria um token de API")
    t.add_argument("--name", required=True)
    t.add_argument("--cnpj", help="restringe o token a uma empresa")
    t.add_argument("--ttl-days", type=int)
    t.set_defaults(func=cmd_create_token)
    sub.add_parser("demo-data", help="carrega empresas de demonstração").set_defaults(
        func=cmd_demo_data
    )
    b = sub.add_parser("backup", help="backup do banco e manifesto dos arquivos")
    b.add_argument("--force", action="store_true", help="mesmo se já houve backup hoje")
    b.set_defaults(func=cmd_backup)
    from app.admin_cli import add_admin_commands  # holidays, obligations, tokens

    add_admin_commands(sub)
    from app.backup.cli import add_backup_commands  # restore, backup-status, …

    add_backup_commands(sub)
    from app.monitoring.cli import add_monitoring_commands  # monitoring render, watch

    add_monitoring_commands(sub)
    sub.add_parser(
        "dispatcher", help="inicia execuções de processar-upload-xml para uploads em espera"
    ).set_defaults(func=cmd_dispatcher)
    return p


def _point_prefect_at_settings() -> None:
    """Prefect reads its own env vars at import: give it PREFECT_API_URL from our settings/.env.

    Without it the Prefect client would silently start an ephemeral local server instead of
    talking to the platform's server.
    """
    import os

    from app.settings import Settings

    os.environ.setdefault("PREFECT_API_URL", Settings().PREFECT_API_URL)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `contab` console script."""
    args = build_parser().parse_args(argv)
    _point_prefect_at_settings()
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    except AppError as exc:
        print(f"erro [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
