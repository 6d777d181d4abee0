"""Checks of the ids conversation memory is keyed by: a malformed one is refused with a clear
INVALID_ARGUMENT instead of being stored (or silently truncated by the database)."""

from __future__ import annotations

from switchboard.core.errors import InvalidRequest

MAX_ID_CHARS = 128


def _check(value: str, field: str) -> str:
    if len(value) > MAX_ID_CHARS:
        raise InvalidRequest(f"{field} is longer than {MAX_ID_CHARS} characters")
    if value and (not value.isprintable() or value != value.strip()):
        raise InvalidRequest(f"{field} must be printable text without leading or trailing spaces")
    return value


def validate_session_id(session_id: str) -> str:
    return _check(session_id, "session_id")


def validate_user_id(user_id: str) -> str:
    return _check(user_id, "metadata user_id")
