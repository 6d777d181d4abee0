"""The supervisor's short-lived signed tokens for agents (HS256 JWTs over a shared secret)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import jwt

from switchboard.core.auth.constants import (
    AUTHORIZATION,
    CLOCK_LEEWAY_S,
    MIN_SERVICE_SECRET_CHARS,
    NEW_TOKEN_HINT,
    SERVICE_ALGORITHM,
    SERVICE_AUDIENCE,
    SERVICE_SUBJECT,
)
from switchboard.core.auth.principal import (
    AccessDenied,
    CredentialError,
    Principal,
    PrincipalKind,
)
from switchboard.core.errors import ConfigurationError
from switchboard.core.settings import AuthSettings

log = logging.getLogger(__name__)


def service_secret(settings: AuthSettings) -> str | None:
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


def is_service_token(token: str, secret: str | None) -> bool:
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
