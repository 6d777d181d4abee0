"""INSERT ... ON CONFLICT DO NOTHING for the two backends the store supports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.store.models import Base


async def insert_if_absent(
    session: AsyncSession, model: type[Base], values: dict[str, Any], keys: list[str]
) -> bool:
    """Inserts ``values`` unless a row with the same ``keys`` exists; True when inserted.

    Atomic on both backends: of any number of concurrent callers exactly one inserts.
    """
    dialect = session.get_bind().dialect.name
    stmt: Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(model).values(values).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        stmt = sqlite.insert(model).values(values).on_conflict_do_nothing(index_elements=keys)
    else:  # pragma: no cover - settings refuse other backends
        raise ValueError(f"unsupported dialect {dialect}")
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0) == 1
