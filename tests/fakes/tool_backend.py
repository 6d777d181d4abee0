"""A Brightlane backend that counts every change instead of refusing repeats.

The demo backend refuses a second refund of one invoice, which would hide a tool that ran
twice behind a polite refusal. This one accepts every refund of any paid invoice and counts
how often each (customer, invoice, reason) was carried out, so a test can see a repeat.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from switchboard.agent.tools.backend import (
    ComponentStatus,
    Invoice,
    RefundRequest,
    SecuritySettings,
    TwoFactorMethod,
)


class CountingBackend:
    """Every invoice exists and is refundable; ``refunds`` counts each refund carried out.

    ``latency_s`` is an upper bound on a random wait before each change, so cancellations
    and deadlines can land while a tool runs. The change itself happens after the last
    ``await`` (atomically), as a real backend's single write would.
    """

    def __init__(self, *, latency_s: float = 0.0, seed: int = 7, tenant: str = "acme") -> None:
        self.tenant = tenant  # every customer belongs to this tenant
        self.refunds: Counter[tuple[str, str, str]] = Counter()
        self.two_factor: Counter[tuple[str, str]] = Counter()
        self._latency = latency_s
        self._random = random.Random(seed)

    async def _wait(self) -> None:
        if self._latency:
            await asyncio.sleep(self._random.uniform(0, self._latency))

    def _invoice(self, invoice_id: str) -> Invoice:
        return Invoice(
            id=invoice_id,
            date="2025-01-01",
            description="Business plan, annual",
            amount_usd=120.0,
            status="Paid",
            refund_eligible=True,
        )

    async def customer_tenant(self, customer_id: str) -> str | None:
        return self.tenant

    async def list_invoices(self, customer_id: str) -> list[Invoice]:
        return [self._invoice("BL-2025-000001")]

    async def get_invoice(self, customer_id: str, invoice_id: str) -> Invoice:
        return self._invoice(invoice_id)

    async def refund_preview(self, customer_id: str, invoice_id: str) -> Invoice:
        return self._invoice(invoice_id)

    async def request_refund(self, customer_id: str, invoice_id: str, reason: str) -> RefundRequest:
        await self._wait()
        key = (customer_id, invoice_id, reason)
        self.refunds[key] += 1
        return RefundRequest(
            id=f"RR-{sum(self.refunds.values()):06d}",
            invoice_id=invoice_id,
            amount_usd=120.0,
            reason=reason,
        )

    async def get_security_settings(self, customer_id: str) -> SecuritySettings:
        return SecuritySettings(two_factor="off")

    async def enable_two_factor(
        self, customer_id: str, method: TwoFactorMethod
    ) -> SecuritySettings:
        await self._wait()
        self.two_factor[(customer_id, method)] += 1
        return SecuritySettings(two_factor="setup_started", two_factor_method=method)

    async def get_service_status(self, component: str | None) -> list[ComponentStatus]:
        return [ComponentStatus(component="api", state="Operational")]
