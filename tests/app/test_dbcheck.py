"""`contab check` on MySQL/MariaDB (issue 20): each unfit server property is a named problem,
against a real MariaDB (the suite's, 127.0.0.1:3306 or a private one), in either test mode."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.cli import main
from app.dbcheck import database_problems, mysql_problems, version_problem
from app.localservices import create_database, drop_database
from app.settings import Settings


def _bare(**env: object) -> Settings:
    """Settings from these values only (the test process's DB_* variables set aside)."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k in Settings.model_fields}
    try:
        return Settings(_env_file=None, **env)  # type: ignore[call-arg, arg-type]
    finally:
        os.environ.update(saved)


def _settings(admin: str, database: str) -> Settings:
    port = sa.make_url(admin).port
    return _bare(DB_CONNECTION="mysql", DB_PORT=port, DB_USERNAME="root", DB_DATABASE=database)


@pytest.fixture
def databases(mysql_admin: str) -> Iterator[dict[str, str]]:
    """A database as contab creates it (utf8mb4_bin), one case/accent-insensitive, one latin1."""
    base = f"{os.environ['DB_DATABASE']}_chk"
    names = {"bin": f"{base}_bin", "ci": f"{base}_ci", "latin1": f"{base}_latin1"}
    create_database(mysql_admin, names["bin"], drop=True)
    import pymysql

    url = sa.make_url(mysql_admin)
    with pymysql.connect(host=url.host, port=url.port, user="root", autocommit=True) as conn:
        with conn.cursor() as cur:
            for key, spec in (("ci", "utf8mb4 COLLATE utf8mb4_general_ci"),
                              ("latin1", "latin1 COLLATE latin1_swedish_ci")):  # fmt: skip
                cur.execute(f"DROP DATABASE IF EXISTS `{names[key]}`")
                cur.execute(f"CREATE DATABASE `{names[key]}` CHARACTER SET {spec}")
                cur.execute(f"CREATE TABLE `{names[key]}`.empresas (cnpj VARCHAR(14) UNIQUE)")
    yield names
    for name in names.values():
        drop_database(mysql_admin, name)


def test_a_database_created_by_contab_has_no_problem(mysql_admin: str, databases) -> None:  # type: ignore[no-untyped-def]
    assert database_problems(_settings(mysql_admin, databases["bin"])) == []


def test_a_case_insensitive_collation_is_named_and_would_merge_cnpjs(
    mysql_admin: str, databases
) -> None:  # type: ignore[no-untyped-def]
    problems = database_problems(_settings(mysql_admin, databases["ci"]))
    assert any("banco de dados usa a collation utf8mb4_general_ci" in p for p in problems)
    assert any("empresas.cnpj (utf8mb4_general_ci)" in p for p in problems)
    engine = sa.create_engine(_settings(mysql_admin, databases["ci"]).database_url)
    try:  # what the check prevents: two values differing only in case collide
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO empresas VALUES ('abc')"))
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO empresas VALUES ('ABC')"))
    finally:
        engine.dispose()


def test_a_latin1_database_is_named(mysql_admin: str, databases) -> None:  # type: ignore[no-untyped-def]
    problems = database_problems(_settings(mysql_admin, databases["latin1"]))
    assert any("banco de dados usa o charset latin1" in p for p in problems)
    assert any("empresas.cnpj (latin1_swedish_ci)" in p for p in problems)


def test_strict_mode_off_is_named(mysql_admin: str, databases) -> None:  # type: ignore[no-untyped-def]
    from app.db import configure_mysql_sessions

    engine = sa.create_engine(_settings(mysql_admin, databases["bin"]).database_url)
    configure_mysql_sessions(engine, 0)
    try:
        with engine.connect() as conn:
            assert mysql_problems(conn) == []
            conn.execute(sa.text("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"))
            problems = mysql_problems(conn)
    finally:
        engine.dispose()
    assert problems == [
        "sql_mode da sessão não é estrito (NO_ENGINE_SUBSTITUTION): valores inválidos seriam "
        "truncados em silêncio; inclua STRICT_ALL_TABLES"
    ]


@pytest.mark.parametrize(
    "version,ok",
    [("10.11.19-MariaDB-0+deb12u1", True), ("10.6.0-MariaDB-log", True), ("8.0.36", True),
     ("8.4.2-commercial", True), ("10.5.22-MariaDB", False), ("5.7.44-log", False),
     ("8.0.15", False),
     ("desconhecida", False)],
)  # fmt: skip
def test_server_versions_without_skip_locked_are_refused(version: str, ok: bool) -> None:
    assert (version_problem(version) is None) is ok


def test_server_version_message_names_the_minimum() -> None:
    assert version_problem("10.5.22-MariaDB") == (
        "MariaDB 10.5.22 é antigo demais: contab precisa de MariaDB ≥ 10.6.0 "
        "(SELECT … FOR UPDATE SKIP LOCKED)"
    )


def test_contab_check_refuses_in_production_and_warns_elsewhere(
    mysql_admin: str,
    databases,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    port = str(sa.make_url(mysql_admin).port)
    for key, value in {"DB_CONNECTION": "mysql", "DB_PORT": port, "DB_USERNAME": "root",
                       "DB_DATABASE": databases["ci"]}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "aviso: o banco de dados usa a collation utf8mb4_general_ci" in out
    monkeypatch.setenv("APP_ENV", "production")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "Configuração de production recusada" in err
    assert "- o banco de dados usa a collation utf8mb4_general_ci" in err


def test_db_connection_mysql_picks_the_dialect_defaults_and_url() -> None:
    s = _bare(DB_CONNECTION="mysql", DB_DATABASE="contab")
    assert s.database_url == "mysql+pymysql://root@127.0.0.1:3306/contab?charset=utf8mb4"
    assert (s.DB_PORT, s.DB_USERNAME) == (3306, "root")
    explicit = _bare(DB_CONNECTION="mysql", DB_PORT=3307, DB_USERNAME="app")
    assert (explicit.DB_PORT, explicit.DB_USERNAME) == (3307, "app")
    pg = _bare(DB_CONNECTION="pgsql")
    assert (pg.DB_PORT, pg.DB_USERNAME) == (5432, "postgres")
    assert pg.database_url.startswith("postgresql+psycopg://")
