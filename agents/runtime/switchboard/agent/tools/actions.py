"""Proposed-action ids: signed, self-contained and bound to who may confirm them.

When the model calls a tool that changes something, nothing runs: the agent answers
NEEDS_CONFIRMATION with a ``PendingAction`` whose id is a JWT (HS256) carrying the tool, its
validated arguments, the tenant, the customer, the agent, who must approve it (the caller,
or a reviewer) and an expiry. Confirming sends the
id back; the agent checks the signature and the binding and runs the tool once. No server
state is needed between the two requests, and any replica sharing the key can confirm.
The id is readable (base64), not secret: it holds nothing the caller did not send.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from switchboard.core.errors import InvalidRequest

log = logging.getLogger(__name__)

ISSUER = "switchboard-agent"
ALGORITHM = "HS256"
MIN_SECRET_CHARS = 32


@dataclass(frozen=True)
class ActionClaims:
    """What a verified action id says."""

    action_id: str  # unique per proposal; keys the once-only tool effect
    agent: str
    tool: str
    args: dict[str, Any]
    tenant: str
    customer_id: str
    step: int
    expired: bool = False
    approval: str = "caller"  # who must approve: "caller" or "reviewer"


class ActionSigner:
    def __init__(
        self,
        secret: str | bytes,
        *,
        ttl_s: float = 3600.0,
        review_ttl_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = secret.encode() if isinstance(secret, str) else secret
        self._ttl = ttl_s
        self._review_ttl = review_ttl_s if review_ttl_s is not None else ttl_s
        self._clock = clock

    @classmethod
    def from_secret(
        cls, secret: str | None, *, ttl_s: float, review_ttl_s: float | None = None
    ) -> ActionSigner:
        """A signer for ``SWITCHBOARD_ACTION_SECRET``; a random key (and a warning) if unset."""
        if not secret:
            log.warning(
                "SWITCHBOARD_ACTION_SECRET is not set: using a random key, so proposed actions "
                "can only be confirmed on this process and not after a restart"
            )
            return cls(secrets.token_urlsafe(48), ttl_s=ttl_s, review_ttl_s=review_ttl_s)
        if len(secret) < MIN_SECRET_CHARS:
            log.warning(
                "SWITCHBOARD_ACTION_SECRET is short; use at least %d random characters",
                MIN_SECRET_CHARS,
            )
        return cls(secret, ttl_s=ttl_s, review_ttl_s=review_ttl_s)

    def sign(
        self,
        *,
        agent: str,
        tool: str,
        args: dict[str, Any],
        tenant: str,
        customer_id: str,
        step: int,
        approval: str = "caller",
    ) -> str:
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "aud": agent,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + int(self._review_ttl if approval == "reviewer" else self._ttl),
            "tool": tool,
            "args": args,
            "tnt": tenant,
            "cid": customer_id,
            "step": step,
            "apr": approval,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, *, agent: str) -> ActionClaims:
        """The claims of a genuine id for ``agent``; an expired one comes back ``expired``.

        Raises InvalidRequest (INVALID_ARGUMENT) for a forged or altered id, one that is not
        an action id at all, or one for another agent. Not PERMISSION_DENIED: between agent
        and supervisor that code means "the supervisor's credentials were refused".
        """
        claims = self._decode(token, agent)
        try:
            expired = float(claims["exp"]) <= self._clock()  # on our clock, for testability
            return ActionClaims(
                action_id=str(claims["jti"]),
                agent=agent,
                tool=str(claims["tool"]),
                args=dict(claims["args"]),
                tenant=str(claims["tnt"]),
                customer_id=str(claims["cid"]),
                step=int(claims["step"]),
                expired=expired,
                approval=str(claims.get("apr", "caller")),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidRequest("confirm_action is not a complete action id") from None

    def _decode(self, token: str, agent: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=agent,
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "jti", "aud", "iss"],
                    "verify_exp": False,  # checked by verify(), so an expired id can replay
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidRequest(
                "confirm_action was altered or not issued by this service: its signature does "
                "not match"
            ) from None
        except jwt.InvalidAudienceError:
            raise InvalidRequest(
                f"confirm_action was proposed by another agent, not {agent!r}"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise InvalidRequest(f"confirm_action is not a valid action id ({exc})") from None
        return claims
