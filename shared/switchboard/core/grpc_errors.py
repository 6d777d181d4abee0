"""The one table from Switchboard errors to gRPC status codes, and its use in servicers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from opentelemetry import trace

from switchboard.core import errors

log = logging.getLogger(__name__)

STATUS_FOR: dict[type[errors.SwitchboardError], grpc.StatusCode] = {
    errors.InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Conflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.InProgress: grpc.StatusCode.ABORTED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.UpstreamError: grpc.StatusCode.UNAVAILABLE,
    errors.ConfigurationError: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_for(exc: errors.SwitchboardError) -> grpc.StatusCode:
    """The gRPC code for a Switchboard error: the closest entry up its class hierarchy."""
    for cls in type(exc).__mro__:
        if cls in STATUS_FOR:
            return STATUS_FOR[cls]  # type: ignore[index]
    return grpc.StatusCode.INTERNAL


def error_from_status(code: grpc.StatusCode, details: str) -> errors.SwitchboardError:
    """The inverse mapping, for errors coming back from a downstream service."""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return errors.InvalidRequest(details)
    if code == grpc.StatusCode.NOT_FOUND:
        return errors.NotFound(details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.DeadlineExceeded(details)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return errors.Unauthenticated(details)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return errors.PermissionDenied(details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return errors.ResourceExhausted(details)
    if code == grpc.StatusCode.ABORTED:  # the same work is still running there: retry soon
        return errors.InProgress(details)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return errors.Conflict(details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return errors.FailedPrecondition(details)
    return errors.Unavailable(details)


class MalformedRequest:
    """Stands in for a request whose bytes did not parse (e.g. invalid UTF-8 in a string).

    gRPC would answer a failing deserializer with INTERNAL; parsing into this instead lets the
    servicer answer INVALID_ARGUMENT, which is what the caller's mistake deserves.
    """

    def __init__(self, type_name: str, reason: str) -> None:
        self.type_name = type_name
        self.reason = reason


M = TypeVar("M", bound=Message)


def tolerant_deserializer(message_type: type[M]) -> Callable[[bytes], M | MalformedRequest]:
    """A request deserializer that never raises."""

    def parse(data: bytes) -> M | MalformedRequest:
        try:
            return message_type.FromString(data)
        except (DecodeError, UnicodeDecodeError, ValueError) as exc:
            return MalformedRequest(message_type.DESCRIPTOR.full_name, str(exc) or "bad bytes")

    return parse


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> NoReturn:
    """Ends the RPC with the status the table gives for ``exc``."""
    if isinstance(exc, errors.SwitchboardError):
        code = status_for(exc)
        trace.get_current_span().set_attribute("error.type", code.name)
        await context.abort(code, exc.message, trailing_metadata=_trailers(exc))
    log.exception("unexpected error", exc_info=exc)
    trace.get_current_span().set_attribute("error.type", type(exc).__name__)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the failure has been logged")


#: Trailer naming why access was denied (``customer_not_owned``...): lets the supervisor tell
#: an agent's refusal of the caller's customer from a refusal of its own credentials.
REASON_TRAILER = "x-switchboard-reason"


def _trailers(exc: errors.SwitchboardError) -> tuple[tuple[str, str], ...]:
    """``retry-after`` (seconds) when the error says how long to wait (a rate limit), and the
    reason code of an access refusal."""
    out: list[tuple[str, str]] = []
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        out.append(("retry-after", f"{max(0.0, retry_after):.3f}"))
    reason = getattr(exc, "reason", None)
    if isinstance(exc, errors.PermissionDenied) and isinstance(reason, str) and reason:
        out.append((REASON_TRAILER, reason))
    return tuple(out)


def trailer(exc: grpc.aio.AioRpcError, key: str) -> str:
    """One trailing-metadata value of a failed call ("" when absent)."""
    for k, v in exc.trailing_metadata() or ():
        if k == key:
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return ""


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def grpc_method(func: Handler) -> Handler:
    """Wraps a servicer method: rejects malformed requests, maps errors to status codes."""

    @functools.wraps(func)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, MalformedRequest):
            trace.get_current_span().set_attribute("error.type", "INVALID_ARGUMENT")
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"could not parse {request.type_name}: {request.reason} "
                "(string fields must be valid UTF-8)",
            )
        try:
            return await func(self, request, context)
        except errors.SwitchboardError as exc:
            await abort(context, exc)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort(context, exc)

    return wrapper  # type: ignore[return-value]
