"""Small helpers the repositories share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from switchboard.core.audit import as_utc, utcnow
from switchboard.store.errors import StoreError


def canonical_hash(value: Any) -> str:
    """sha256 of a value's canonical JSON (sorted keys, no spaces)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@asynccontextmanager
async def store_errors(action: str) -> AsyncIterator[None]:
    """Re-raises driver, connection and value errors as :class:`StoreError`."""
    try:
        yield
    except StoreError:
        raise
    except (SQLAlchemyError, OSError, ValueError, TypeError) as exc:
        raise StoreError(f"{action} failed: {type(exc).__name__}: {exc}") from exc


__all__ = ["as_utc", "canonical_hash", "store_errors", "utcnow"]
