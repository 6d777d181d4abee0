"""The server interceptor that lets a call in or not: authentication and the token's role
(``auth.ROLE_POLICY``: callers use the Supervisor service, reviewers the Review service,
admins both), the rate limit, then admission control (``core.admission``: a saturated
service sheds calls explicitly).

It runs before every method except health checks and reflection (probes and tools need no
token). A refused call ends with UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED
(through the one table in ``grpc_errors``), is logged and counted, and becomes an audit event
(``auth_failure`` or ``limit_exceeded``) with the method, reason and peer, never the token.
An admitted call's principal is available to the servicer as ``auth.current_principal()``.
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
from switchboard.core.ratelimit import RateLimiter

log = logging.getLogger(__name__)

UNGUARDED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

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
        meter: metrics.Meter | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._audit: AuditSink = audit or NoAudit()
        self._limiter = limiter
        self._admission = admission
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
        if handler is None or method.startswith(UNGUARDED_PREFIXES):
            return handler
        return self._guarded(handler, method)

    async def admit(self, method: str, context: Context) -> Principal:
        """The caller's principal, or the RPC is aborted with the reason."""
        try:
            principal = self._authenticator.authenticate(context.invocation_metadata())
            principal.check_method(method)  # the token's role allows this service
        except (CredentialError, AccessDenied) as exc:
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
        self._audit.submit(
            AuditEvent(
                kind=kind,
                tenant=tenant,
                outcome=code.lower(),
                detail={"method": method, "reason": reason, "peer": peer, **extra},
            )
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
            async for item in streaming(request, context):
                yield item

        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(streamed, **common)
        return grpc.stream_stream_rpc_method_handler(streamed, **common)
