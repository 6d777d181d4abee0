"""Store settings: URLs for SQLite and PostgreSQL, from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.agent.settings import AgentSettings
from switchboard.store import StoreError, StoreSettings, normalise_url
from switchboard.store.settings import safe_url, sqlite_path
from switchboard.supervisor.settings import SupervisorSettings


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgres://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql+psycopg2://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
        ("sqlite:///x/y.db", "sqlite+aiosqlite:///x/y.db"),
        ("sqlite+aiosqlite:////abs/y.db", "sqlite+aiosqlite:////abs/y.db"),
    ],
)
def test_urls_are_normalised_to_async_drivers(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://u@db/app", "not a url", "oracle://x"])
def test_unsupported_urls_raise_store_error(bad: str) -> None:
    with pytest.raises(StoreError):
        normalise_url(bad)


def test_defaults_to_sqlite_under_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SWITCHBOARD_DATABASE_URL", raising=False)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", "/var/lib/sb")
    # The data dir is the service's (one folder for all its files); the store's section
    # puts the SQLite file there.
    for service in (AgentSettings(), SupervisorSettings()):
        url = service.store.url(service.data_dir)
        assert url == "sqlite+aiosqlite:////var/lib/sb/switchboard.db"
        assert sqlite_path(url) == Path("/var/lib/sb/switchboard.db")
    settings = StoreSettings()
    assert settings.idempotency_window_s == 86400
    assert settings.audit_retention_days == 90


def test_reads_database_url_and_window_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db:5432/sb")
    monkeypatch.setenv("SWITCHBOARD_IDEMPOTENCY_WINDOW_S", "60")
    monkeypatch.setenv("SWITCHBOARD_AUDIT_RETENTION_DAYS", "7")
    settings = StoreSettings()
    url = settings.url(Path("/var/lib/sb"))  # a configured URL wins over the data dir
    assert url == "postgresql+asyncpg://app:s3cret@db:5432/sb"
    assert settings.idempotency_window_s == 60
    assert settings.audit_retention_days == 7
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in safe_url(url)
    assert sqlite_path(url) is None
