"""What the tools need from Brightlane's systems: an interface and its data types.

Every method that touches account data takes the customer id from the tool context (the
request), so an implementation can scope every query to that one customer. Whether the
caller may act for that customer at all is not the backend's call to make: the runtime asks
:meth:`BrightlaneBackend.customer_tenant` who owns the customer and refuses another tenant's
before any tool runs (``ownership.py``), so a backend cannot forget the check.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

InvoiceStatus = Literal["Paid", "Processing", "Open", "Void"]
TwoFactorMethod = Literal["authenticator_app", "security_key"]
ComponentState = Literal[
    "Operational", "Degraded performance", "Partial outage", "Major outage", "Under maintenance"
]


class Invoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    date: str  # ISO date
    description: str
    amount_usd: float
    status: InvoiceStatus
    refund_eligible: bool
    refund_note: str = ""  # why it is (not) refundable, in the refund policy's words


class RefundRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    invoice_id: str
    amount_usd: float
    reason: str
    status: Literal["submitted"] = "submitted"


class SecuritySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    two_factor: Literal["off", "setup_started", "on"]
    two_factor_method: TwoFactorMethod | None = None
    backup_codes_left: int = 0
    workspace_requires_two_factor: bool = False
    sso: Literal["off", "saml", "oidc"] = "off"
    active_sessions: int = 1
    password_changed: str = ""  # ISO date


class ComponentStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    component: str
    state: ComponentState
    note: str = ""


class BackendError(Exception):
    """A request the backend refuses (unknown invoice, already refunded...). Safe to show."""


class BrightlaneBackend(Protocol):
    """Brightlane's billing, account and status systems, as the tools see them."""

    async def customer_tenant(self, customer_id: str) -> str | None:
        """The tenant (the calling business) this end customer belongs to, or None when the
        backend does not know the customer. Used by the runtime's ownership check only."""
        ...

    async def list_invoices(self, customer_id: str) -> list[Invoice]: ...

    async def get_invoice(self, customer_id: str, invoice_id: str) -> Invoice:
        """Raises BackendError when the customer has no such invoice (theirs or anyone's)."""
        ...

    async def refund_preview(self, customer_id: str, invoice_id: str) -> Invoice:
        """The invoice a refund would be for; BackendError when none may be requested."""
        ...

    async def request_refund(
        self, customer_id: str, invoice_id: str, reason: str
    ) -> RefundRequest: ...

    async def get_security_settings(self, customer_id: str) -> SecuritySettings: ...

    async def enable_two_factor(
        self, customer_id: str, method: TwoFactorMethod
    ) -> SecuritySettings: ...

    async def get_service_status(self, component: str | None) -> list[ComponentStatus]: ...
