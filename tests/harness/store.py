"""Helpers for the store tests: a migrated SQLite store in a temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switchboard.store import Store, StoreSettings


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
