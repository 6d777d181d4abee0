"""Validation of user text, shared by every service that accepts it."""

from __future__ import annotations

from switchboard.core.errors import InvalidRequest


def validate_text(text: str, *, max_chars: int, field: str = "text") -> str:
    """Returns the stripped text, or raises InvalidRequest saying exactly what is wrong."""
    stripped = text.strip()
    if not stripped:
        raise InvalidRequest(f"{field} is empty; send the user's request as UTF-8 text")
    if len(text) > max_chars:
        raise InvalidRequest(
            f"{field} has {len(text)} characters; the limit is {max_chars} "
            "(shorten it or raise SWITCHBOARD_MAX_TEXT_CHARS)"
        )
    if "\x00" in text:
        raise InvalidRequest(f"{field} contains a NUL character")
    return stripped


def validate_request_id(request_id: str) -> str:
    if len(request_id) > 128:
        raise InvalidRequest("request_id is longer than 128 characters")
    if request_id and not request_id.isprintable():
        raise InvalidRequest("request_id must be printable text")
    return request_id
