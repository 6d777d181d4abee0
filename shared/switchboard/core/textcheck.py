"""Validation of user text, shared by every service that accepts it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class MetadataLimits:
    """How much a caller may put in a request's metadata map (settings ``max_metadata_*``)."""

    max_entries: int = 32
    max_key_chars: int = 64
    max_value_chars: int = 512


def validate_metadata(
    metadata: Mapping[str, str], limits: MetadataLimits = MetadataLimits()
) -> dict[str, str]:
    """The request's metadata map, or InvalidRequest when it is too large or malformed."""
    if len(metadata) > limits.max_entries:
        raise InvalidRequest(
            f"metadata has {len(metadata)} entries; the limit is {limits.max_entries} "
            "(raise SWITCHBOARD_MAX_METADATA_ENTRIES)"
        )
    for key, value in metadata.items():
        if not key or len(key) > limits.max_key_chars or not key.isprintable():
            raise InvalidRequest(
                f"metadata key {key[: limits.max_key_chars]!r} must be 1 to "
                f"{limits.max_key_chars} printable characters"
            )
        if len(value) > limits.max_value_chars:
            raise InvalidRequest(
                f"metadata value of {key!r} has {len(value)} characters; the limit is "
                f"{limits.max_value_chars} (raise SWITCHBOARD_MAX_METADATA_VALUE_CHARS)"
            )
        if "\x00" in value:
            raise InvalidRequest(f"metadata value of {key!r} contains a NUL character")
    return dict(metadata)
