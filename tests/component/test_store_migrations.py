"""Alembic migrations: upgrade from empty, rerun safely, match the models, downgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from switchboard.store import Store, current_revision, head_revision, migrate
from switchboard.store.migrate import alembic_config
from switchboard.store.models import Base
from tests.harness.store import sqlite_settings, sqlite_url

TABLES = {
    "audit_events",
    "request_results",
    "tool_effects",
    "session_state",
    "example_candidates",
    "conversations",
    "conversation_turns",
    "user_memories",
    "working_memory",
}


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"


async def test_upgrade_from_empty_creates_every_table_and_index(tmp_path: Path) -> None:
    url = _url(tmp_path)
    assert await current_revision(url) is None
    await migrate(url)
    assert await current_revision(url) == head_revision()

    engine = create_async_engine(url)
    async with engine.connect() as conn:

        def names(sync: Connection) -> tuple[set[str], set[str]]:
            insp = inspect(sync)
            indexes = {i["name"] or "" for i in insp.get_indexes("audit_events")}
            return set(insp.get_table_names()), indexes

        tables, audit_indexes = await conn.run_sync(names)
    await engine.dispose()
    assert tables >= TABLES | {"alembic_version"}
    assert audit_indexes >= {
        "ix_audit_events_request_id",
        "ix_audit_events_time",
        "ix_audit_events_tenant_time",
        "ix_audit_events_kind_time",
    }


async def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = _url(tmp_path)
    await migrate(url)
    await migrate(url)
    assert await current_revision(url) == head_revision()


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = _url(tmp_path)
    await migrate(url)
    engine = create_async_engine(url)
    async with engine.connect() as conn:

        def diff(sync: Connection) -> list[object]:
            ctx = MigrationContext.configure(sync, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))

        changes = await conn.run_sync(diff)
    await engine.dispose()
    assert changes == []


async def test_downgrade_to_base_and_up_again(tmp_path: Path) -> None:
    url = _url(tmp_path)
    await migrate(url)
    engine = create_async_engine(url)

    def down(sync: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync
        command.downgrade(cfg, "base")

    async with engine.begin() as conn:
        await conn.run_sync(down)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda s: set(inspect(s).get_table_names()))
    await engine.dispose()
    assert not tables & TABLES
    await migrate(url)
    assert await current_revision(url) == head_revision()


async def test_store_open_creates_the_folder_and_migrates(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    store = await Store.open(sqlite_settings(data_dir), url=sqlite_url(data_dir))
    try:
        assert (tmp_path / "nested" / "data" / "switchboard.db").exists()
        assert await store.ping()
        assert await current_revision(store.engine) == head_revision()
    finally:
        await store.close()
