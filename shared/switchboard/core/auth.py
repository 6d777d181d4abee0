"""Who is calling: caller tokens at the supervisor, the supervisor's signed tokens at agents.

Callers (backend services, one *tenant* each) send ``authorization: Bearer <token>`` on every
RPC. The supervisor knows their tokens from ``SWITCHBOARD_AUTH_TOKENS`` (``tenant=token``
pairs) and/or ``SWITCHBOARD_AUTH_TOKENS_FILE`` and keeps only their SHA-256 digests, compared
in constant time. Agents accept only the supervisor: it signs a JWT (HS256, ``sub=supervisor``,
``aud=switchboard-agent``, about a minute long) with the shared ``SWITCHBOARD_SERVICE_TOKEN``,
so a leaked agent-bound token is worth little and caller tokens never reach agents.

No gRPC here: :mod:`switchboard.core.access` applies this in a server interceptor. Messages
say what is wrong and never contain a token.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import jwt
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from switchboard.core.errors import ConfigurationError, PermissionDenied, Unauthenticated
from switchboard.core.settings import CommonSettings

log = logging.getLogger(__name__)

AUTHORIZATION = "authorization"
SERVICE_SUBJECT = "supervisor"
SERVICE_AUDIENCE = "switchboard-agent"
SERVICE_ALGORITHM = "HS256"
MIN_TOKEN_CHARS = 16
MIN_SERVICE_SECRET_CHARS = 32
CLOCK_LEEWAY_S = 5.0
NEW_TOKEN_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

Metadata = Iterable[tuple[str, str | bytes]]


class PrincipalKind(StrEnum):
    TENANT = "tenant"
    SERVICE = "service"
    ANONYMOUS = "anonymous"  # no credentials configured: the service runs open


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one RPC."""

    kind: PrincipalKind
    name: str
    agents: frozenset[str] | None = None  # a tenant's allow-list; None: every agent

    @property
    def tenant(self) -> str | None:
        """The tenant name, for audit and idempotency; None unless a tenant token was shown."""
        return self.name if self.kind == PrincipalKind.TENANT else None

    def check_agent(self, agent: str) -> None:
        """Raises PermissionDenied when this caller's token does not allow ``agent``."""
        if self.agents is not None and agent not in self.agents:
            allowed = ", ".join(sorted(self.agents)) or "none"
            raise AccessDenied(
                f"tenant {self.name!r} is not allowed to use agent {agent!r} (allowed: {allowed})",
                reason="agent_not_allowed",
                tenant=self.name,
            )


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS, "anonymous")

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "switchboard_principal", default=None
)


def current_principal() -> Principal | None:
    """The caller of the RPC being served (set by the access interceptor), if any."""
    return _current.get()


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


class CredentialError(Unauthenticated):
    """Missing, malformed, unknown or expired credentials, with a reason code for the audit."""

    def __init__(self, message: str, *, reason: str, tenant: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.tenant = tenant


class AccessDenied(PermissionDenied):
    """Valid credentials that do not allow this call, with a reason code for the audit."""

    def __init__(self, message: str, *, reason: str, tenant: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.tenant = tenant


# -- caller tokens ---------------------------------------------------------------------------


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenEntry(BaseModel):
    """One caller token: its tenant, the token (or its SHA-256), expiry and allowed agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    token: SecretStr | None = None
    token_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    expires_at: datetime | None = None
    agents: frozenset[str] | None = Field(
        None, description="Agents this tenant may use; unset: all."
    )

    @model_validator(mode="after")
    def _one_secret(self) -> TokenEntry:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token and token_sha256")
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"token is shorter than {MIN_TOKEN_CHARS} characters; make one with "
                f"{NEW_TOKEN_HINT}"
            )
        return self

    @property
    def digest(self) -> bytes:
        if self.token is not None:
            return digest(self.token.get_secret_value())
        assert self.token_sha256 is not None
        return bytes.fromhex(self.token_sha256)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and _utc(self.expires_at) <= now


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_token_pairs(raw: str) -> list[TokenEntry]:
    """``tenant=token,tenant2=token2`` as entries; errors name the entry, never the token."""
    entries = []
    for position, pair in enumerate(raw.split(","), start=1):
        if not pair.strip():
            continue
        tenant, sep, token = pair.strip().partition("=")
        if not sep or not tenant.strip() or not token.strip():
            raise ConfigurationError(
                f"SWITCHBOARD_AUTH_TOKENS entry {position} is not 'tenant=token'"
            )
        try:
            entries.append(TokenEntry(tenant=tenant.strip(), token=SecretStr(token.strip())))
        except ValidationError as exc:
            raise ConfigurationError(
                f"SWITCHBOARD_AUTH_TOKENS entry {position} ({tenant.strip()!r}): "
                f"{_first_error(exc)}"
            ) from None
    return entries


def load_token_file(path: Path) -> list[TokenEntry]:
    """A YAML or JSON list of entries (or a mapping with a ``tokens`` list)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read auth tokens file {path}: {exc}") from None
    if isinstance(raw, dict) and "tokens" in raw:
        raw = raw["tokens"]
    if not isinstance(raw, list):
        raise ConfigurationError(f"auth tokens file {path} must hold a list of entries")
    entries = []
    for position, item in enumerate(raw, start=1):
        try:
            entries.append(TokenEntry.model_validate(item))
        except ValidationError as exc:
            raise ConfigurationError(
                f"auth tokens file {path}, entry {position}: {_first_error(exc)}"
            ) from None
    return entries


def _first_error(exc: ValidationError) -> str:
    """A validation error without the offending input (which may be a token)."""
    err = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


class TokenTable:
    """Caller tokens by SHA-256 digest. Lookup compares against every entry in constant time."""

    def __init__(self, entries: Iterable[TokenEntry] = ()) -> None:
        self._entries = list(entries)
        self._digests = [e.digest for e in self._entries]
        seen: dict[bytes, str] = {}
        for entry, d in zip(self._entries, self._digests, strict=True):
            if d in seen and seen[d] != entry.tenant:
                raise ConfigurationError(
                    f"the same token is configured for tenants {seen[d]!r} and {entry.tenant!r}"
                )
            seen[d] = entry.tenant

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> TokenTable:
        entries: list[TokenEntry] = []
        if settings.auth_tokens is not None:
            entries += parse_token_pairs(settings.auth_tokens.get_secret_value())
        if settings.auth_tokens_file is not None:
            entries += load_token_file(settings.auth_tokens_file)
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def tenants(self) -> list[str]:
        return sorted({e.tenant for e in self._entries})

    def lookup(self, token: str) -> TokenEntry | None:
        presented = digest(token)
        found: TokenEntry | None = None
        for entry, d in zip(self._entries, self._digests, strict=True):
            if hmac.compare_digest(presented, d) and found is None:
                found = entry
        return found


def bearer_token(metadata: Metadata | None) -> str:
    """The token of the single ``authorization: Bearer <token>`` entry, or CredentialError."""
    values = [v for k, v in metadata or () if k.lower() == AUTHORIZATION]
    if not values:
        raise CredentialError(
            "missing credentials: send metadata 'authorization: Bearer <token>'",
            reason="missing",
        )
    if len(values) > 1:
        raise CredentialError("send exactly one 'authorization' metadata entry", reason="malformed")
    value = values[0]
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise CredentialError(
            "malformed credentials: the 'authorization' metadata must be 'Bearer <token>'",
            reason="malformed",
        )
    return token


# -- service tokens (supervisor -> agent) ----------------------------------------------------


def service_secret(settings: CommonSettings) -> str | None:
    """The configured service secret, or None (agents open); too short is a start-up error."""
    if settings.service_token is None:
        return None
    secret = settings.service_token.get_secret_value().strip()
    if not secret:
        return None
    if len(secret) < MIN_SERVICE_SECRET_CHARS:
        raise ConfigurationError(
            f"SWITCHBOARD_SERVICE_TOKEN must have at least {MIN_SERVICE_SECRET_CHARS} "
            f"characters (HS256 wants a 256-bit key); make one with {NEW_TOKEN_HINT}"
        )
    return secret


class ServiceTokenIssuer:
    """Signs the supervisor's short-lived tokens, reusing one until half its life is gone."""

    def __init__(
        self, secret: str, *, ttl_s: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._ttl = ttl_s
        self._clock = clock
        self._token = ""
        self._renew_at = float("-inf")

    def token(self) -> str:
        now = self._clock()
        if now >= self._renew_at:
            claims: dict[str, Any] = {
                "sub": SERVICE_SUBJECT,
                "aud": SERVICE_AUDIENCE,
                "iat": int(now),
                "exp": int(now + self._ttl),
            }
            self._token = jwt.encode(claims, self._secret, algorithm=SERVICE_ALGORITHM)
            self._renew_at = now + self._ttl / 2
        return self._token

    def metadata(self) -> list[tuple[str, str]]:
        return [(AUTHORIZATION, f"Bearer {self.token()}")]


def verify_service_token(token: str, secret: str) -> Principal:
    """The supervisor's principal, or CredentialError / AccessDenied saying what is wrong."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[SERVICE_ALGORITHM],
            audience=SERVICE_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"]},
            leeway=CLOCK_LEEWAY_S,
        )
    except jwt.ExpiredSignatureError:
        raise CredentialError(
            "the service token has expired (is the supervisor's clock right?)", reason="expired"
        ) from None
    except jwt.InvalidAudienceError:
        raise AccessDenied(
            f"the service token is not meant for agents (audience must be {SERVICE_AUDIENCE!r})",
            reason="wrong_audience",
        ) from None
    except jwt.InvalidTokenError as exc:
        raise CredentialError(
            "invalid service token: not signed with this agent's SWITCHBOARD_SERVICE_TOKEN "
            f"or not a token ({type(exc).__name__})",
            reason="invalid_token",
        ) from None
    if claims.get("sub") != SERVICE_SUBJECT:
        raise AccessDenied(
            f"only the supervisor may call agents; this token is for {str(claims.get('sub'))!r}",
            reason="wrong_subject",
        )
    return Principal(PrincipalKind.SERVICE, SERVICE_SUBJECT)


def _is_service_token(token: str, secret: str | None) -> bool:
    """True for any token validly signed with the service secret (claims not checked)."""
    if secret is None or token.count(".") != 2:
        return False
    try:
        jwt.decode(
            token,
            secret,
            algorithms=[SERVICE_ALGORITHM],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_aud": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError:
        return False
    return True


# -- authenticators --------------------------------------------------------------------------


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
    def from_settings(cls, settings: CommonSettings) -> CallerAuthenticator:
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
            if _is_service_token(token, self._service_secret):
                raise AccessDenied(
                    "service tokens are for agents; callers of the supervisor need a tenant token",
                    reason="service_token",
                )
            raise CredentialError("invalid credentials: unknown token", reason="unknown_token")
        if entry.expired(self._clock()):
            assert entry.expires_at is not None
            raise CredentialError(
                f"the token of tenant {entry.tenant!r} expired at "
                f"{_utc(entry.expires_at).isoformat()}; ask for a new one",
                reason="expired",
                tenant=entry.tenant,
            )
        return Principal(PrincipalKind.TENANT, entry.tenant, entry.agents)


class ServiceAuthenticator:
    """An agent's check: only the supervisor's signed token. Open when no secret is set."""

    def __init__(self, secret: str | None, *, caller_tokens: TokenTable | None = None) -> None:
        self._secret = secret
        self._callers = caller_tokens or TokenTable()

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> ServiceAuthenticator:
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
