"""Who the caller of one RPC is, and the two errors of access: not who, or not allowed."""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from enum import StrEnum

from switchboard.core.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)


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
    customers: frozenset[str] | None = None  # its configured customers; None: not listed here

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

    def check_customer(self, customer_id: str) -> None:
        """Raises CustomerDenied when this tenant's token lists its customers and
        ``customer_id`` is not one of them (the agent also checks the backend's data)."""
        if customer_id and self.customers is not None and customer_id not in self.customers:
            raise CustomerDenied(self.name, customer_id)


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


CUSTOMER_NOT_OWNED = "customer_not_owned"


class CustomerDenied(AccessDenied):
    """The caller named an end customer that is not its tenant's own."""

    def __init__(self, tenant: str, customer_id: str) -> None:
        super().__init__(
            f"tenant {tenant!r} may not act for customer {customer_id!r}: it is not one of "
            "this tenant's customers",
            reason=CUSTOMER_NOT_OWNED,
            tenant=tenant,
        )
        self.customer_id = customer_id


# -- caller tokens ---------------------------------------------------------------------------
