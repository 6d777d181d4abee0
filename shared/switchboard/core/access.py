"""The server interceptor that lets a call in or not: authentication and the token's role
(``auth.ROLE_POLICY``: callers use the Supervisor service, reviewers the Review service,
admins both), the rate limit, then admission control (``core.admission``: a saturated
service sheds calls explicitly).

It runs before every method. Only the overall health check (``Health/Check`` with an empty
service name, what probes and load balancers ask) needs no token: per-service health (agent
names, breaker states), ``Health/List`` and server reflection need the same credentials as the
service itself (when the service runs open, nobody needs any). A refused call ends with
UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED (through the one table in
``grpc_errors``), is logged and counted, and becomes an audit event (``auth_failure`` or
``limit_exceeded``) with the method, reason and peer, never the token; repeated refusals of
one kind from one peer are aggregated (``refusal_audit.py``). Failed authentications are
themselves rate limited per peer address: past the limit a caller gets RESOURCE_EXHAUSTED
before its token is even looked at. An admitted call's principal is available to the
servicer as ``auth.current_principal()``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import metrics

from switchboard.core import errors
from switchboard.core.admission import Admission
from switchboard.core.audit import AuditEvent, AuditKind, AuditSink, NoAudit
from switchboard.core.auth import (
    AccessDenied,
    Authenticator,
    CredentialError,
    Principal,
    PrincipalKind,
    reset_principal,
    set_principal,
)
from switchboard.core.grpc_errors import abort, status_for
from switchboard.core.ratelimit import Limit, LocalRateLimiter, RateLimiter
from switchboard.core.refusal_audit import RefusalAudit
from switchboard.core.settings import LimitSettings

log = logging.getLogger(__name__)

HEALTH_PREFIX = "/grpc.health.v1.Health/"

Context = grpc.aio.ServicerContext[Any, Any]


class AccessInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates each call and applies the per-tenant rate limit, in that order."""

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        audit: AuditSink | None = None,
        limiter: RateLimiter | None = None,
        admission: Admission | None = None,
        failure_limiter: LocalRateLimiter | None = None,
        audit_window_s: float = 10.0,
        meter: metrics.Meter | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._audit = RefusalAudit(audit or NoAudit(), window_s=audit_window_s)
        self._limiter = limiter
        self._admission = admission
        self._failures = failure_limiter
        meter = meter or metrics.get_meter("switchboard.access")
        self._refusals = meter.create_counter(
            "switchboard.access.refusals",
            unit="{call}",
            description="Calls refused before the servicer, by status code and reason.",
        )

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:
            return handler
        if method.startswith(HEALTH_PREFIX):
            return self._health(handler, method)
        return self._guarded(handler, method)

    def flush(self) -> None:
        """Writes the summaries of aggregated refusals (call when the server stops)."""
        self._audit.flush()

    async def admit(self, method: str, context: Context) -> Principal:
        """The caller's principal, or the RPC is aborted with the reason."""
        try:
            principal = self._authenticator.authenticate(context.invocation_metadata())
            principal.check_method(method)  # the token's role allows this service
        except (CredentialError, AccessDenied) as exc:
            if self._failures is not None:
                try:
                    self._failures.take(_host(context.peer()))
                except errors.ResourceExhausted as limited:
                    exhausted = errors.ResourceExhausted(
                        "too many failed authentications from this address; retry after "
                        f"{limited.retry_after_s or 0.0:.3f} s",
                        retry_after_s=limited.retry_after_s,
                    )
                    self._refused(
                        AuditKind.LIMIT_EXCEEDED, method, context, exhausted, "auth_failures", None
                    )
                    await abort(context, exhausted)
            self._refused(AuditKind.AUTH_FAILURE, method, context, exc, exc.reason, exc.tenant)
            await abort(context, exc)
        if self._limiter is None or principal.kind == PrincipalKind.SERVICE:
            return principal
        try:
            await self._limiter.acquire(principal.name)
        except errors.ResourceExhausted as exc:
            self._refused(
                AuditKind.LIMIT_EXCEEDED,
                method,
                context,
                exc,
                "rate_limit",
                principal.tenant,
                retry_after_s=round(exc.retry_after_s or 0.0, 3),
            )
            await abort(context, exc)
        return principal

    def _refused(
        self,
        kind: AuditKind,
        method: str,
        context: Context,
        exc: errors.SwitchboardError,
        reason: str,
        tenant: str | None,
        **extra: Any,
    ) -> None:
        code = status_for(exc).name
        peer = context.peer()
        self._refusals.add(
            1, {"rpc.method": method, "rpc.grpc.status_code": code, "reason": reason}
        )
        log.warning(
            "call refused",
            extra={
                "method": method,
                "code": code,
                "reason": reason,
                "peer": peer,
                "tenant": tenant,
            },
        )
        self._audit.refused(
            (kind.value, _host(peer), reason, tenant or "", method),
            AuditEvent(
                kind=kind,
                tenant=tenant,
                outcome=code.lower(),
                detail={"method": method, "reason": reason, "peer": peer, **extra},
            ),
        )

    async def _admitted(self, context: Context, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call`` within a slot of admission control, or the call is shed (aborted)."""
        if self._admission is None:
            return await call()
        try:
            await self._admission.acquire(context.time_remaining())
        except errors.ResourceExhausted as exc:
            await abort(context, exc)  # counted, and audited once per burst, by admission
        try:
            return await call()
        finally:
            self._admission.release()

    def _health(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """The overall health check stays open (probes); per-service health and List, which
        name agents and breaker states, need credentials."""
        admit = self.admit
        common = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        listing = method.endswith("/List")

        async def checked(request: Any, context: Context, inner: Any) -> Any:
            if not (listing or str(getattr(request, "service", ""))):
                return await inner(request, context)
            token = set_principal(await admit(method, context))
            try:
                return await inner(request, context)
            finally:
                reset_principal(token)

        if handler.unary_unary is not None:
            inner_uu: Any = handler.unary_unary

            async def unary(request: Any, context: Context) -> Any:
                return await checked(request, context, inner_uu)

            return grpc.unary_unary_rpc_method_handler(unary, **common)
        if handler.unary_stream is not None:  # Watch writes with context.write
            inner_us: Any = handler.unary_stream

            async def watch(request: Any, context: Context) -> Any:
                return await checked(request, context, inner_us)

            return grpc.unary_stream_rpc_method_handler(watch, **common)
        return self._guarded(handler, method)

    def _guarded(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        admit = self.admit
        common = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            inner_uu: Any = handler.unary_unary

            async def unary_unary(request: Any, context: Context) -> Any:
                token = set_principal(await admit(method, context))
                try:
                    return await self._admitted(context, lambda: inner_uu(request, context))
                finally:
                    reset_principal(token)

            return grpc.unary_unary_rpc_method_handler(unary_unary, **common)
        if handler.stream_unary is not None:
            inner_su: Any = handler.stream_unary

            async def stream_unary(requests: Any, context: Context) -> Any:
                token = set_principal(await admit(method, context))
                try:
                    return await self._admitted(context, lambda: inner_su(requests, context))
                finally:
                    reset_principal(token)

            return grpc.stream_unary_rpc_method_handler(stream_unary, **common)
        streaming: Any = handler.unary_stream or handler.stream_stream

        async def streamed(request: Any, context: Context) -> AsyncIterator[Any]:
            # Set, not reset: a generator may be closed in another context; the RPC's task
            # (and so this value) ends with the call.
            set_principal(await admit(method, context))
            if handler.unary_stream is not None and self._admission is not None:
                # A server stream (AskStream, InvokeStream) holds an admission slot for its
                # whole life, like a unary call; it writes with context.write.
                await self._admitted(context, lambda: streaming(request, context))
                return
            produced = streaming(request, context)
            if hasattr(produced, "__aiter__"):
                async for item in produced:
                    yield item
            else:  # a handler that writes with context.write and returns nothing
                await produced

        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(streamed, **common)
        return grpc.stream_stream_rpc_method_handler(streamed, **common)


def access_interceptor(
    authenticator: Authenticator,
    limits: LimitSettings,
    audit: AuditSink,
    limiter: RateLimiter | None = None,
    admission: Admission | None = None,
) -> AccessInterceptor:
    """The interceptor as the settings configure it (both services' roots use this)."""
    failures = None
    if limits.auth_failure_rate_per_s > 0:
        failures = LocalRateLimiter(
            Limit(limits.auth_failure_rate_per_s, limits.auth_failure_burst)
        )
    return AccessInterceptor(
        authenticator,
        audit=audit,
        limiter=limiter,
        admission=admission,
        failure_limiter=failures,
        audit_window_s=limits.refusal_audit_window_s,
    )


def _host(peer: str) -> str:
    """The caller's address without its port (``ipv4:10.0.0.5:51234`` -> ``ipv4:10.0.0.5``)."""
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rsplit(":", 1)[0]
    return peer
