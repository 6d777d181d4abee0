"""The tools of the three demo agents, over a :class:`BrightlaneBackend`.

billing: ``list_invoices``, ``get_invoice``, ``request_refund`` (changes something);
account: ``get_security_settings``, ``enable_two_factor`` (changes something);
support: ``get_service_status``. Each agent's ``agent.yaml`` lists the ones it may use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchboard.agent.tools.backend import BackendError, BrightlaneBackend, TwoFactorMethod
from switchboard.agent.tools.registry import (
    Proposal,
    Tool,
    ToolContext,
    ToolOutput,
    ToolRegistry,
)
from switchboard.core.errors import ModelFeedback

TOOL_NAMES = (
    "list_invoices",
    "get_invoice",
    "request_refund",
    "get_security_settings",
    "enable_two_factor",
    "get_service_status",
)
Component = Literal["web-app", "apps", "sync", "api", "uploads", "notifications", "integrations"]
_METHOD_NAMES = {"authenticator_app": "an authenticator app", "security_key": "a security key"}


class _Input(BaseModel):
    # Unknown fields are refused: the model cannot slip in a customer id or anything else.
    model_config = ConfigDict(extra="forbid")


class NoInput(_Input):
    pass


class InvoiceInput(_Input):
    invoice_id: str = Field(
        pattern=r"^BL-\d{4}-\d{6}$", description="Invoice number, e.g. BL-2025-004217."
    )


class RefundInput(InvoiceInput):
    reason: str = Field(
        min_length=3, max_length=300, description="The customer's reason, in a few words."
    )


class TwoFactorInput(_Input):
    method: TwoFactorMethod = Field(
        description="authenticator_app (TOTP codes) or security_key (WebAuthn / passkey)."
    )


class StatusInput(_Input):
    component: Component | None = Field(
        None, description="One status page component; omit for all of them."
    )


def brightlane_tools(backend: BrightlaneBackend) -> ToolRegistry:
    """Every Brightlane tool, bound to ``backend``."""

    async def list_invoices(ctx: ToolContext, _: NoInput) -> ToolOutput:
        with _feedback():
            invoices = await backend.list_invoices(ctx.require_customer())
        return {"invoices": [i.model_dump(mode="json") for i in invoices]}

    async def get_invoice(ctx: ToolContext, args: InvoiceInput) -> ToolOutput:
        with _feedback():
            invoice = await backend.get_invoice(ctx.require_customer(), args.invoice_id)
        return invoice.model_dump(mode="json")

    async def propose_refund(ctx: ToolContext, args: RefundInput) -> Proposal:
        with _feedback():
            invoice = await backend.refund_preview(ctx.require_customer(), args.invoice_id)
        return Proposal(
            f"Request a refund of ${invoice.amount_usd:,.2f} for invoice {invoice.id} "
            f"({invoice.description}); reason: {args.reason}",
            amount_usd=invoice.amount_usd,
        )

    async def request_refund(ctx: ToolContext, args: RefundInput) -> ToolOutput:
        with _feedback():
            refund = await backend.request_refund(
                ctx.require_customer(), args.invoice_id, args.reason
            )
        return refund.model_dump(mode="json")

    async def get_security_settings(ctx: ToolContext, _: NoInput) -> ToolOutput:
        with _feedback():
            settings = await backend.get_security_settings(ctx.require_customer())
        return settings.model_dump(mode="json")

    async def propose_two_factor(ctx: ToolContext, args: TwoFactorInput) -> str:
        with _feedback():
            settings = await backend.get_security_settings(ctx.require_customer())
        if settings.two_factor == "on":
            raise ModelFeedback("two-factor authentication is already on for this account")
        return f"Start two-factor authentication set-up with {_METHOD_NAMES[args.method]}"

    async def enable_two_factor(ctx: ToolContext, args: TwoFactorInput) -> ToolOutput:
        with _feedback():
            settings = await backend.enable_two_factor(ctx.require_customer(), args.method)
        return settings.model_dump(mode="json")

    async def get_service_status(ctx: ToolContext, args: StatusInput) -> ToolOutput:
        with _feedback():
            components = await backend.get_service_status(args.component)
        return {
            "status_page": "status.brightlane.example",
            "components": [c.model_dump(mode="json") for c in components],
        }

    tools: list[Tool[Any]] = [
        Tool(
            "list_invoices",
            "List the signed-in customer's invoices: number, date, amount, status and "
            "whether a refund may be requested.",
            NoInput,
            list_invoices,
        ),
        Tool(
            "get_invoice",
            "Get one of the signed-in customer's invoices by its number (BL-YYYY-NNNNNN).",
            InvoiceInput,
            get_invoice,
        ),
        Tool(
            "request_refund",
            "Submit a refund request for one of the signed-in customer's paid invoices. "
            "Changes the account: it runs only after the customer confirms.",
            RefundInput,
            request_refund,
            mutating=True,
            propose=propose_refund,
            describe=_refund_done,
        ),
        Tool(
            "get_security_settings",
            "Read the signed-in user's security settings: two-factor status and method, "
            "backup codes left, SSO, active sessions.",
            NoInput,
            get_security_settings,
        ),
        Tool(
            "enable_two_factor",
            "Start two-factor authentication set-up for the signed-in user with an "
            "authenticator app or a security key. Changes the account: it runs only after "
            "the user confirms.",
            TwoFactorInput,
            enable_two_factor,
            mutating=True,
            propose=propose_two_factor,
            describe=_two_factor_done,
        ),
        Tool(
            "get_service_status",
            "Current state of Brightlane's components as shown on the status page.",
            StatusInput,
            get_service_status,
        ),
    ]
    return ToolRegistry(tools)


@contextmanager
def _feedback() -> Iterator[None]:
    """Turns a backend refusal into feedback the model can relay to the user."""
    try:
        yield
    except BackendError as exc:
        raise ModelFeedback(str(exc)) from exc


def _refund_done(result: ToolOutput) -> str:
    return (
        f"Done: refund request {result['id']} for invoice {result['invoice_id']} "
        f"(${float(result['amount_usd']):,.2f}) has been submitted. The billing team reviews "
        "refund requests within 2 business days; approved refunds go back to the original "
        "payment method, and card refunds usually appear within 5 to 10 business days."
    )


def _two_factor_done(result: ToolOutput) -> str:
    if result.get("two_factor_method") == "security_key":
        finish = "register your security key when asked"
    else:
        finish = "scan the QR code with your authenticator app and enter the 6-digit code"
    return (
        "Done: two-factor authentication set-up has started. To finish, open Profile > "
        f"Security > Two-factor authentication, {finish}, then save your 10 backup codes."
    )
