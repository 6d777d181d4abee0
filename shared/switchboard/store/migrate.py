"""Alembic migrations, run from code (``await migrate(url)``) or ``switchboard db upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from switchboard.store.errors import StoreError
from switchboard.store.settings import normalise_url, safe_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Taken for the length of an upgrade so replicas starting together migrate one at a time.
_PG_LOCK_KEY = 0x5357_4244_4D49_4752 & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the shipped migrations (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Kept out of the ini options: ConfigParser would read any '%' in a password.
        cfg.attributes["url"] = normalise_url(url)
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(url: str | AsyncEngine, revision: str = "head") -> None:
    """Upgrades the database at ``url`` (or behind an engine) to ``revision``, from empty too."""
    engine, own = _engine(url)
    cfg = alembic_config()
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, cfg, revision)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"migrating {safe_url(str(engine.url))} failed: {exc}") from exc
    finally:
        if own:
            await engine.dispose()


async def current_revision(url: str | AsyncEngine) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    engine, own = _engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"reading the revision failed: {exc}") from exc
    finally:
        if own:
            await engine.dispose()


def _engine(url: str | AsyncEngine) -> tuple[AsyncEngine, bool]:
    if isinstance(url, AsyncEngine):
        return url, False
    return create_async_engine(normalise_url(url)), True
