"""Store settings, read from the environment, and database URL handling."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from switchboard.store.errors import StoreError

DB_FILE = "switchboard.db"

# Synchronous or unspecified drivers, mapped to the async driver the store uses.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class StoreSettings(BaseSettings):
    """Where the audit log, idempotency records and tool effects live, and for how long."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    database_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "SWITCHBOARD_DATABASE_URL"),
        description="SQLAlchemy or libpq-style URL; unset means SQLite under the service's "
        "data dir.",
    )
    idempotency_window_s: float = Field(
        86400.0, gt=0, description="How long a finished request_id returns its stored result."
    )
    idempotency_lease_s: float = Field(
        300.0,
        gt=0,
        description="How long an unfinished claim blocks a retry before another may take it.",
    )
    audit_retention_days: float = Field(
        90.0, gt=0, description="Audit rows older than this are removed by `db purge`."
    )
    example_retention_days: float = Field(
        30.0,
        gt=0,
        description="Example candidates (which hold request text) older than this are removed "
        "by `db purge`, unless accepted and not yet applied.",
    )
    review_retention_days: float = Field(
        90.0,
        gt=0,
        description="Finished review items older than this are removed by 'db purge' (open "
        "ones are kept).",
    )
    audit_spool_dir: Path | None = Field(
        None,
        description="Where audit events wait on local disk while the database is down "
        "(replayed when it is back); unset: <data dir>/audit-spool.",
    )
    audit_spool_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=0,
        description="Most bytes the audit spool holds per process; past it events are dropped "
        "(counted, logged) and actions that must be audited are refused.",
    )
    db_pool_size: int = Field(5, ge=1, description="Connections kept open (PostgreSQL).")
    db_writers: int = Field(
        2,
        ge=1,
        description="Writer tasks that group the request path's writes into shared "
        "transactions (PostgreSQL; SQLite always has one).",
    )
    db_write_batch: int = Field(
        128, ge=1, description="Most writes grouped into one transaction (group commit)."
    )
    db_timeout_s: float = Field(10.0, gt=0, description="Connect and lock-wait timeout.")

    def url(self, data_dir: Path) -> str:
        """The async SQLAlchemy URL to connect to (secrets included; never log it): the
        configured one, else SQLite in ``data_dir`` (the service's one data folder)."""
        if self.database_url is not None and self.database_url.get_secret_value().strip():
            return normalise_url(self.database_url.get_secret_value().strip())
        return normalise_url(f"sqlite:///{data_dir / DB_FILE}")


def normalise_url(url: str) -> str:
    """Turns ``postgresql://``, ``postgres://`` or ``sqlite:///`` into their async drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"DATABASE_URL is not a database URL: {exc}") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise StoreError(f"unsupported database {parsed.drivername!r}: use PostgreSQL or SQLite")
    parsed = parsed.set(drivername=driver)
    if driver == "postgresql+asyncpg" and "sslmode" in parsed.query:
        # libpq spells it sslmode; asyncpg takes the same values as ssl.
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with its password masked, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid url>"


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The file a SQLite URL names, or None for in-memory databases and other backends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)
