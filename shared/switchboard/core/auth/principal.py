"""Who the caller of one RPC is, and the two errors of access: not who, or not allowed."""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from enum import StrEnum

from switchboard.core.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)


class Role(StrEnum):
    """What a tenant token may do (``role`` in the tokens file; default ``caller``)."""

    CALLER = "caller"  # a backend service: the Supervisor service, for its tenant
    REVIEWER = "reviewer"  # a person: the Review service, for its tenant's items only
    ADMIN = "admin"  # both services, every tenant's items


#: Which roles may call each gRPC service (method-name prefix). Services not named here are
#: open to every authenticated principal (health and reflection never reach this check).
ROLE_POLICY: dict[str, frozenset[Role]] = {
    "/switchboard.v1.Supervisor/": frozenset({Role.CALLER, Role.ADMIN}),
    "/switchboard.v1.Review/": frozenset({Role.REVIEWER, Role.ADMIN}),
    "/switchboard.v1.Memory/": frozenset({Role.CALLER, Role.ADMIN}),
}


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
    role: Role = Role.CALLER
    person: str = ""  # who holds the token (the entry's ``name``), for audit

    @property
    def actor(self) -> str:
        """Who acts, as recorded with every decision: ``tenant/name`` or ``tenant/role``
        (``anonymous`` when the service runs without tokens)."""
        if self.kind != PrincipalKind.TENANT:
            return self.name
        return f"{self.name}/{self.person or self.role.value}"

    @property
    def all_tenants(self) -> bool:
        """True for an admin, and for the anonymous principal of a service run open."""
        return self.role is Role.ADMIN or self.kind == PrincipalKind.ANONYMOUS

    def check_method(self, method: str) -> None:
        """Raises AccessDenied when this principal's role may not call ``method``."""
        if self.kind != PrincipalKind.TENANT:
            return
        for prefix, roles in ROLE_POLICY.items():
            if method.startswith(prefix) and self.role not in roles:
                service = prefix.strip("/").rsplit(".", 1)[-1]
                allowed = " or ".join(sorted(r.value for r in roles))
                raise AccessDenied(
                    f"a {self.role.value} token may not call the {service} service (it needs "
                    f"a {allowed} token)",
                    reason="role",
                    tenant=self.name,
                )

    def check_tenant(self, tenant: str) -> bool:
        """True when this principal may see ``tenant``'s review items."""
        return self.all_tenants or self.tenant == tenant

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
