from __future__ import annotations

import grpc

from switchboard.core import errors
from switchboard.core.grpc_errors import (
    MalformedRequest,
    error_from_status,
    status_for,
    tolerant_deserializer,
)
from switchboard.v1 import supervisor_pb2


def test_one_table_maps_error_kinds_to_status_codes() -> None:
    assert status_for(errors.InvalidRequest("x")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_for(errors.NotFound("x")) == grpc.StatusCode.NOT_FOUND
    assert status_for(errors.Unavailable("x")) == grpc.StatusCode.UNAVAILABLE
    assert status_for(errors.DeadlineExceeded("x")) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert status_for(errors.UpstreamError("x")) == grpc.StatusCode.UNAVAILABLE
    # an unlisted subclass takes its parent's code; an unknown kind is INTERNAL
    assert status_for(type("Sub", (errors.InvalidRequest,), {})("x")) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert status_for(errors.SwitchboardError("x")) == grpc.StatusCode.INTERNAL


def test_downstream_statuses_map_back() -> None:
    assert isinstance(
        error_from_status(grpc.StatusCode.INVALID_ARGUMENT, "x"), errors.InvalidRequest
    )
    assert isinstance(error_from_status(grpc.StatusCode.UNAVAILABLE, "x"), errors.Unavailable)


def test_tolerant_deserializer_flags_bad_utf8_instead_of_raising() -> None:
    parse = tolerant_deserializer(supervisor_pb2.AskRequest)
    good = supervisor_pb2.AskRequest(text="héllo").SerializeToString()
    assert parse(good).text == "héllo"  # type: ignore[union-attr]
    bad = b"\x1a\x02\xff\xfe"  # field 3 (text), length 2, invalid UTF-8
    result = parse(bad)
    assert isinstance(result, MalformedRequest)
    assert result.type_name == "switchboard.v1.AskRequest"
    assert isinstance(parse(b"\xff\xff\xff"), MalformedRequest)
