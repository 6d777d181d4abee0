"""Helpers for the store tests: a migrated SQLite store in a temporary folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from switchboard.store import Store, StoreSettings, normalise_url


def sqlite_settings(tmp_path: Path, **overrides: Any) -> StoreSettings:
    return StoreSettings(database_url=None, **overrides)


async def open_sqlite_store(tmp_path: Path, **overrides: Any) -> Store:
    return await Store.open(sqlite_settings(tmp_path, **overrides), url=sqlite_url(tmp_path))


def sqlite_url(tmp_path: Path) -> str:
    return StoreSettings(database_url=None).url(tmp_path)


async def open_data_dir_store(data_dir: Path, *, upgrade: bool = False) -> Store:
    """The SQLite store a (local process) stack keeps in ``data_dir``."""
    return await Store.open(
        StoreSettings(database_url=None), url=sqlite_url(data_dir), upgrade=upgrade
    )


POSTGRES_ADMIN_URL = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; the test is skipped
    (a failure under CI=true) when no server answers."""
    admin = create_async_engine(normalise_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(5), admin.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"switchboard_test_{uuid.uuid4().hex[:12]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(normalise_url(POSTGRES_ADMIN_URL))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
