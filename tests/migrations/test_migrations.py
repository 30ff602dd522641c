"""Migration discipline (guide §5): upgrade from empty works, models match, revisions are frozen."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import models
from app import migrate
from app.localservices import admin_dsn, create_database
from app.settings import get_settings


def _url(db: str) -> str:
    """The test database's URL (PostgreSQL or MySQL, CONTAB_TEST_DB) for database db."""
    url = sa.make_url(get_settings().database_url).set(database=db)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def fresh_db_url() -> str:
    """An empty database migrated from scratch by `alembic upgrade head`."""
    name = f"{os.environ['DB_DATABASE']}_migrations"
    create_database(admin_dsn(get_settings().database_url), name, drop=True)
    url = _url(name)
    migrate.upgrade(url)
    return url


def _diff(url: str, metadata: sa.MetaData) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def test_upgrade_from_empty_reaches_head(fresh_db_url: str) -> None:
    head = migrate.alembic_config(fresh_db_url)
    from alembic.script import ScriptDirectory

    assert migrate.current(fresh_db_url) == ScriptDirectory.from_config(head).get_current_head()


def test_models_and_migrations_agree(fresh_db_url: str) -> None:
    assert _diff(fresh_db_url, models.Base.metadata) == []


def test_a_model_change_without_revision_is_detected(fresh_db_url: str) -> None:
    """The check above can fail: a column added to the models only shows up as a diff."""
    changed = sa.MetaData(naming_convention=models.Base.metadata.naming_convention)
    for table in models.Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["empresas"].append_column(sa.Column("nova_coluna", sa.Text()))
    diff = _diff(fresh_db_url, changed)
    assert any(d[0] == "add_column" and d[3].name == "nova_coluna" for d in diff)  # type: ignore[index]


def test_every_table_has_the_unique_keys_later_flows_rely_on(fresh_db_url: str) -> None:
    engine = sa.create_engine(fresh_db_url)
    try:
        insp = sa.inspect(engine)
        uniques = {
            t: {tuple(u["column_names"]) for u in insp.get_unique_constraints(t)}
            for t in insp.get_table_names()
        }
    finally:
        engine.dispose()
    expected = {
        "empresas": ("cnpj",),
        "tarefas": ("empresa_id", "obligation_id", "competencia"),
        "document_requests": ("empresa_id", "competencia"),
        "request_items": ("request_id", "code"),
        "fiscal_documents": ("empresa_id", "chave"),
        "fiscal_events": ("empresa_id", "chave", "tp_evento", "n_seq"),
        "stored_files": ("empresa_id", "sha256"),
        "guides": ("empresa_id", "obligation_id", "competencia"),
        "notifications": ("idempotency_key",),
        "company_obligations": ("empresa_id", "obligation_id"),
        "revenue_entries": ("empresa_id", "competencia", "anexo", "source"),
        "api_tokens": ("token_hash",),
    }
    for table, cols in expected.items():
        assert cols in uniques[table], f"{table} lacks unique {cols}"
    for table in (
        "audit_log",
        "operational_logs",
        "delivery_attempts",
        "guide_events",
        "orders",
        "order_attachments",
        "contacts",
        "staff",
        "uploads",
        "upload_files",
    ):
        assert table in uniques


def test_applied_revisions_match_the_committed_manifest() -> None:
    assert migrate.verify_manifest(migrate.revision_files(), migrate.read_manifest()) == []


def test_an_edited_revision_is_detected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The manifest check can fail: editing one byte of an applied revision is reported."""
    versions = migrate.PROJECT_ROOT / "migrations" / "versions"
    for f in versions.glob("*.py"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    first = sorted(tmp_path.glob("*.py"))[0]
    first.write_text(first.read_text() + "\n# edited\n")
    problems = migrate.verify_manifest(migrate.revision_files(tmp_path), migrate.read_manifest())
    assert problems == [f"revisão aplicada foi editada: {first.name}"]
    (tmp_path / "9999_new.py").write_text("x = 1\n")
    problems = migrate.verify_manifest(migrate.revision_files(tmp_path), migrate.read_manifest())
    assert any("9999_new.py" in p for p in problems)


def test_dry_run_prints_sql_without_touching_the_database(fresh_db_url: str) -> None:
    sql = migrate.upgrade_sql(fresh_db_url)
    assert "CREATE TABLE empresas" in sql and "CREATE TABLE tarefas" in sql


def test_autogenerate_writes_new_revisions_in_postgresql_terms(fresh_db_url: str) -> None:
    """A new model column of the dialect-aware types renders as the applied revisions spell
    them (models.mysql_ddl translates both for MySQL), with no models.base import needed."""
    from alembic.autogenerate import produce_migrations, render_python_code

    from models.base import JsonType, UtcDateTime

    changed = sa.MetaData(naming_convention=models.Base.metadata.naming_convention)
    for table in models.Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["empresas"].append_column(sa.Column("visto_em", UtcDateTime()))
    changed.tables["empresas"].append_column(sa.Column("extras", JsonType))
    engine = sa.create_engine(fresh_db_url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "target_metadata": changed}
            ctx = MigrationContext.configure(conn, opts=opts)
            code = render_python_code(
                produce_migrations(ctx, changed).upgrade_ops,  # type: ignore[arg-type]
                render_item=migrate.render_item,
                migration_context=ctx,
            )
    finally:
        engine.dispose()
    assert "sa.Column('visto_em', sa.DateTime(timezone=True)" in code
    assert "sa.Column('extras', postgresql.JSONB(astext_type=sa.Text())" in code
    assert "models.base" not in code
