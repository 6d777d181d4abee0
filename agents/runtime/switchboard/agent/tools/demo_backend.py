"""The demo backend: fictional customers from ``demo_data.yaml``, changes kept in memory.

DEMO ONLY. It stands in for Brightlane's billing and identity systems so the tools can be
shown and tested offline. ``effects`` lists every change made, so tests can check that a
confirmed action ran exactly once.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.agent.tools.backend import (
    BackendError,
    ComponentState,
    ComponentStatus,
    Invoice,
    RefundRequest,
    SecuritySettings,
    TwoFactorMethod,
)
from switchboard.core.errors import ConfigurationError

DEMO_DATA = Path(__file__).with_name("demo_data.yaml")


class _Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    tenant: str | None = None  # the tenant (calling business) this customer belongs to
    plan: str
    invoices: list[Invoice] = Field(default_factory=list)
    security: SecuritySettings


class _Component(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    state: ComponentState
    note: str = ""


class _DemoData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customers: dict[str, _Customer]
    service_status: dict[str, _Component]


class DemoBackend:
    """An in-memory :class:`BrightlaneBackend` over the demo fixture."""

    def __init__(self, data: _DemoData) -> None:
        self._data = data
        self._refunds: dict[str, RefundRequest] = {}  # invoice id -> request
        self._lock = asyncio.Lock()
        self.effects: list[dict[str, Any]] = []

    @classmethod
    def load(cls, path: Path | None = None) -> DemoBackend:
        path = path or DEMO_DATA
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(_DemoData.model_validate(raw))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ConfigurationError(f"cannot load tool demo data {path}: {exc}") from exc

    @property
    def components(self) -> list[str]:
        return list(self._data.service_status)

    def _customer(self, customer_id: str) -> _Customer:
        customer = self._data.customers.get(customer_id)
        if customer is None:
            raise BackendError("no Brightlane account matches this customer")
        return customer

    async def customer_tenant(self, customer_id: str) -> str | None:
        customer = self._data.customers.get(customer_id)
        return None if customer is None else customer.tenant

    async def list_invoices(self, customer_id: str) -> list[Invoice]:
        return list(self._customer(customer_id).invoices)

    async def get_invoice(self, customer_id: str, invoice_id: str) -> Invoice:
        for invoice in self._customer(customer_id).invoices:
            if invoice.id == invoice_id:
                return invoice
        # The same answer whether the invoice is someone else's or nobody's.
        raise BackendError(f"there is no invoice {invoice_id} on this account")

    async def request_refund(self, customer_id: str, invoice_id: str, reason: str) -> RefundRequest:
        async with self._lock:
            invoice = await self.get_invoice(customer_id, invoice_id)
            check_refundable(invoice, self._refunds.get(invoice_id))
            refund = RefundRequest(
                id=f"RR-{secrets.token_hex(3).upper()}",
                invoice_id=invoice.id,
                amount_usd=invoice.amount_usd,
                reason=reason,
            )
            self._refunds[invoice_id] = refund
            self.effects.append(
                {"tool": "request_refund", "customer": customer_id, **refund.model_dump()}
            )
            return refund

    async def refund_preview(self, customer_id: str, invoice_id: str) -> Invoice:
        invoice = await self.get_invoice(customer_id, invoice_id)
        check_refundable(invoice, self._refunds.get(invoice_id))
        return invoice

    async def get_security_settings(self, customer_id: str) -> SecuritySettings:
        return self._customer(customer_id).security

    async def enable_two_factor(
        self, customer_id: str, method: TwoFactorMethod
    ) -> SecuritySettings:
        async with self._lock:
            customer = self._customer(customer_id)
            if customer.security.two_factor == "on":
                raise BackendError("two-factor authentication is already on for this account")
            customer.security = customer.security.model_copy(
                update={"two_factor": "setup_started", "two_factor_method": method}
            )
            self.effects.append(
                {"tool": "enable_two_factor", "customer": customer_id, "method": method}
            )
            return customer.security

    async def get_service_status(self, component: str | None) -> list[ComponentStatus]:
        items = self._data.service_status.items()
        if component is not None:
            items = [(k, v) for k, v in items if k == component]  # type: ignore[assignment]
            if not items:
                raise BackendError(f"unknown component {component!r}")
        return [ComponentStatus(component=c.name, state=c.state, note=c.note) for _, c in items]


def check_refundable(invoice: Invoice, existing: RefundRequest | None) -> None:
    """Raises BackendError unless a refund may be requested for ``invoice``."""
    if existing is not None:
        raise BackendError(
            f"a refund for invoice {invoice.id} was already requested ({existing.id})"
        )
    if invoice.status != "Paid":
        raise BackendError(f"invoice {invoice.id} is {invoice.status}, not paid")
    if not invoice.refund_eligible:
        raise BackendError(
            f"invoice {invoice.id} is not refundable: {invoice.refund_note or 'outside the window'}"
        )
