"""Client-side helpers for tests that call services which require credentials."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import grpc

from switchboard.core.auth import ServiceTokenIssuer


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str | bytes]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: Any


class MetadataInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds fixed metadata (credentials, say) to every unary and streaming call on a channel
    (reflection is a stream)."""

    def __init__(self, metadata: Callable[[], list[tuple[str, str]]]) -> None:
        self._metadata = metadata

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with(details), request)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with(details), requests)

    def _with(self, details: Any) -> _CallDetails:
        return _CallDetails(
            details.method,
            details.timeout,
            [*(details.metadata or ()), *self._metadata()],
            details.credentials,
            details.wait_for_ready,
            getattr(details, "compression", None),
        )


def with_metadata(
    channel: grpc.Channel, metadata: Callable[[], list[tuple[str, str]]]
) -> grpc.Channel:
    return grpc.intercept_channel(channel, MetadataInterceptor(metadata))


def supervisor_channel(address: str, secret: str | None) -> grpc.Channel:
    """A channel to an agent that presents the supervisor's service token (when a secret is set)."""
    channel = grpc.insecure_channel(address)
    if not secret:
        return channel
    return with_metadata(channel, ServiceTokenIssuer(secret).metadata)
