"""The size limits on a request's metadata map (AskRequest.metadata)."""

from __future__ import annotations

import pytest

from switchboard.core.errors import InvalidRequest
from switchboard.core.textcheck import MetadataLimits, validate_metadata

LIMITS = MetadataLimits(max_entries=3, max_key_chars=8, max_value_chars=10)


def test_within_limits_is_returned_as_a_dict() -> None:
    metadata = {"tenant": "acme", "tier": "pro", "x": "0123456789"}
    assert validate_metadata(metadata, LIMITS) == metadata
    assert validate_metadata({}) == {}


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ({"a": "1", "b": "2", "c": "3", "d": "4"}, "4 entries; the limit is 3"),
        ({"k" * 9: "v"}, "1 to 8 printable characters"),
        ({"": "v"}, "1 to 8 printable characters"),
        ({"bad\nkey": "v"}, "printable"),
        ({"k": "v" * 11}, "11 characters; the limit is 10"),
        ({"k": "a\x00b"}, "NUL"),
    ],
)
def test_over_the_limits_is_invalid(metadata: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidRequest, match=says):
        validate_metadata(metadata, LIMITS)


def test_defaults_match_the_settings() -> None:
    from switchboard.core.settings import LimitSettings

    settings = LimitSettings()
    assert MetadataLimits() == MetadataLimits(
        settings.max_metadata_entries,
        settings.max_metadata_key_chars,
        settings.max_metadata_value_chars,
    )
