"""Helpers for the store tests: a migrated SQLite store in a temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switchboard.store import Store, StoreSettings


def sqlite_settings(tmp_path: Path, **overrides: Any) -> StoreSettings:
    return StoreSettings(database_url=None, data_dir=tmp_path, **overrides)


async def open_sqlite_store(tmp_path: Path, **overrides: Any) -> Store:
    return await Store.open(sqlite_settings(tmp_path, **overrides))
