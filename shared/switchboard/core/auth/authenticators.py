"""Turns a call's metadata into a principal: callers at the supervisor, the supervisor at agents."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from switchboard.core.audit import as_utc
from switchboard.core.auth.constants import (
    Metadata,
)
from switchboard.core.auth.principal import (
    ANONYMOUS,
    AccessDenied,
    CredentialError,
    Principal,
    PrincipalKind,
)
from switchboard.core.auth.service_tokens import (
    is_service_token,
    service_secret,
    verify_service_token,
)
from switchboard.core.auth.tokens import (
    TokenTable,
    bearer_token,
)
from switchboard.core.errors import ConfigurationError
from switchboard.core.settings import AuthSettings

log = logging.getLogger(__name__)


class Authenticator(Protocol):
    """Turns an RPC's metadata into a principal, or raises CredentialError / AccessDenied."""

    @property
    def open(self) -> bool: ...

    def authenticate(self, metadata: Metadata | None) -> Principal: ...


class CallerAuthenticator:
    """The supervisor's check: a known, unexpired tenant token. Open when none is configured."""

    def __init__(
        self,
        tokens: TokenTable,
        *,
        service_secret: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._tokens = tokens
        self._service_secret = service_secret
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> CallerAuthenticator:
        return cls(TokenTable.from_settings(settings), service_secret=service_secret(settings))

    @property
    def open(self) -> bool:
        return len(self._tokens) == 0

    def authenticate(self, metadata: Metadata | None) -> Principal:
        if self.open:
            return ANONYMOUS
        token = bearer_token(metadata)
        entry = self._tokens.lookup(token)
        if entry is None:
            if is_service_token(token, self._service_secret):
                raise AccessDenied(
                    "service tokens are for agents; callers of the supervisor need a tenant token",
                    reason="service_token",
                )
            raise CredentialError("invalid credentials: unknown token", reason="unknown_token")
        if entry.expired(self._clock()):
            assert entry.expires_at is not None
            raise CredentialError(
                f"the token of tenant {entry.tenant!r} expired at "
                f"{as_utc(entry.expires_at).isoformat()}; ask for a new one",
                reason="expired",
                tenant=entry.tenant,
            )
        return Principal(
            PrincipalKind.TENANT,
            entry.tenant,
            entry.agents,
            entry.customers,
            role=entry.role,
            person=entry.name or "",
        )


class ServiceAuthenticator:
    """An agent's check: only the supervisor's signed token. Open when no secret is set."""

    def __init__(self, secret: str | None, *, caller_tokens: TokenTable | None = None) -> None:
        self._secret = secret
        self._callers = caller_tokens or TokenTable()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> ServiceAuthenticator:
        try:
            # Only to tell a caller who shows its token here to go to the supervisor.
            callers = TokenTable.from_settings(settings)
        except ConfigurationError as exc:
            log.warning(
                "caller tokens unreadable; agents do not need them", extra={"error": exc.message}
            )
            callers = TokenTable()
        return cls(service_secret(settings), caller_tokens=callers)

    @property
    def open(self) -> bool:
        return self._secret is None

    def authenticate(self, metadata: Metadata | None) -> Principal:
        if self._secret is None:
            return ANONYMOUS
        token = bearer_token(metadata)
        caller = self._callers.lookup(token)
        if caller is not None:
            raise AccessDenied(
                "agents accept only the supervisor; send requests to the supervisor instead",
                reason="caller_token",
                tenant=caller.tenant,
            )
        return verify_service_token(token, self._secret)
