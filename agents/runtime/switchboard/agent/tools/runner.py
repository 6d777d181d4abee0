"""Runs the model's tool calls and the caller's confirmations, each traced and audited.

A tool call from the model is checked against the agent's allow-list and validated before
anything runs. Read-only tools run with a timeout and their output is screened for injected
instructions. A tool that changes something does not run: it becomes a signed
``PendingAction``. A confirmation of that action runs the tool exactly once
(``ToolEffects.run_once``, keyed by tenant, action id and step); repeating the confirmation
returns the stored result. No LLM is involved in carrying an action out; the runtime may then
resume the model's loop from its working memory with the result (``runtime.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from opentelemetry import trace

from switchboard.agent.auditing import screened_event
from switchboard.agent.config import ApprovalPolicy
from switchboard.agent.screening import WITHHELD_TOOL_OUTPUT, PassageScreen
from switchboard.agent.tools import Tool, ToolContext, ToolRegistry
from switchboard.agent.tools.actions import ActionSigner
from switchboard.agent.tools.ownership import CustomerOwnership
from switchboard.core.audit import AuditEvent, AuditKind, AuditSink, NoAudit, audit_accepting
from switchboard.core.auth import CustomerDenied
from switchboard.core.errors import (
    Conflict,
    FailedPrecondition,
    InProgress,
    InvalidRequest,
    ModelFeedback,
    Unavailable,
)
from switchboard.core.genai import tool_span
from switchboard.core.llm import ToolCall, ToolResult
from switchboard.core.telemetry import mark_error
from switchboard.core.types import (
    AgentAnswer,
    AnswerMode,
    Approval,
    Approver,
    Outcome,
    PendingAction,
)
from switchboard.store import EffectMismatch, EffectPending, ToolEffects

log = logging.getLogger(__name__)

ToolOutcome = Literal["executed", "proposed", "refused", "failed", "replayed", "withheld"]
MAX_TOOL_RESULT_CHARS = 8000


@dataclass(frozen=True)
class Confirmed:
    """A confirmed action, carried out (``output``) or refused by the backend (``error``):
    the caller's answer when the model is not resumed, and what the model is told when it
    is (``ToolRunner.model_result``)."""

    answer: AgentAnswer
    action_id: str
    tool: str
    output: dict[str, Any] | None = None
    error: str | None = None


class ToolRunner:
    def __init__(
        self,
        tools: ToolRegistry,
        *,
        agent: str,
        signer: ActionSigner,
        audit: AuditSink | None = None,
        screen: PassageScreen | None = None,
        effects: ToolEffects | None = None,
        approvals: Mapping[str, ApprovalPolicy] | None = None,
        ownership: CustomerOwnership | None = None,
    ) -> None:
        self.tools = tools
        self._approvals = dict(approvals or {})
        self._ownership = ownership
        self._agent = agent
        self._signer = signer
        self._audit: AuditSink = audit or NoAudit()
        self._screen = screen
        self._effects = effects

    # -- the model's calls ---------------------------------------------------------------

    async def call(
        self, call: ToolCall, ctx: ToolContext, *, timeout: float | None
    ) -> ToolResult | PendingAction:
        """One tool call from the model: a result for the model, or a proposed action.

        A customer the tenant does not own ends the request (CustomerDenied), audited."""
        await self.check_customer(ctx, tool=call.name, stage="tool_call")
        description = self.tools.get(call.name).description if call.name in self.tools else ""
        with tool_span(call.name, call.id, description=description) as span:
            stage = "validate"
            try:
                tool = self.tools.get(call.name)
                args = tool.validate(call.input)
                stage = "run"
                if tool.mutating:
                    return await self._propose(tool, args, call, ctx, timeout)
                output = await tool.run(ctx, args, timeout=timeout)
            except ModelFeedback as exc:
                outcome: ToolOutcome = "refused" if stage == "validate" else "failed"
                mark_error(span, "ModelFeedback", exc.message)
                span.set_attribute("switchboard.tool.outcome", outcome)
                self._record(ctx, call.name, call.id, outcome, error=exc.message)
                return ToolResult(call.id, exc.message, is_error=True)
            except Exception as exc:  # a bug or a broken backend: the model hears it failed
                log.exception("tool failed", extra={"tool": call.name})
                mark_error(span, type(exc).__name__)
                self._record(ctx, call.name, call.id, "failed", error=type(exc).__name__)
                return ToolResult(call.id, f"tool {call.name} failed; no result", is_error=True)
            text, withheld = await self._for_model(call.name, output, ctx, span)
            outcome = "withheld" if withheld else "executed"
            span.set_attribute("switchboard.tool.outcome", outcome)
            self._record(ctx, call.name, call.id, outcome, args=args.model_dump(mode="json"))
            return ToolResult(call.id, text)

    async def _for_model(
        self, tool: str, output: Any, ctx: ToolContext, span: Any
    ) -> tuple[str, bool]:
        """A tool's output as the model is given it: JSON, cut to size, screened for
        injected instructions (withheld when flagged: True)."""
        text = json.dumps(output, ensure_ascii=False, default=str)[:MAX_TOOL_RESULT_CHARS]
        if self._screen is None:
            return text, False
        verdict = await self._screen.tool_output(text)
        if not verdict.blocked:
            return text, False
        log.warning(
            "tool output withheld: looks like injected instructions",
            extra={"tool": tool, "reason": verdict.reason},
        )
        span.set_attributes(
            {"switchboard.guard.blocked": True, "switchboard.guard.reason": verdict.reason}
        )
        self._refusal(ctx, "tool", verdict.reason, verdict.score, tool=tool)
        return WITHHELD_TOOL_OUTPUT, True

    def action_id(self, pending: PendingAction) -> str:
        """The id of a proposed action (what its once-only effect and working memory are
        keyed by), read from its signed token."""
        return self._signer.verify(pending.id, agent=self._agent).action_id

    async def _propose(
        self, tool: Tool[Any], args: Any, call: ToolCall, ctx: ToolContext, timeout: float | None
    ) -> PendingAction:
        proposal = await tool.proposal(ctx, args, timeout=timeout)  # checked against the account
        policy = self._approvals.get(tool.name)
        approver = policy.approver_for(proposal.amount_usd) if policy else Approver.CALLER
        arguments = args.model_dump(mode="json")
        pending = PendingAction(
            id=self._signer.sign(
                agent=self._agent,
                tool=tool.name,
                args=arguments,
                tenant=ctx.tenant,
                customer_id=ctx.customer_id,
                step=ctx.step,
                approval=approver.value,
            ),
            tool=tool.name,
            summary=proposal.summary,
            arguments_json=json.dumps(arguments, sort_keys=True),
            approval=approver,
        )
        self._record(ctx, tool.name, call.id, "proposed", args=arguments, approval=approver.value)
        return pending

    async def check_customer(self, ctx: ToolContext, *, tool: str = "", stage: str) -> None:
        """Raises CustomerDenied (audited) unless the request's tenant owns its customer."""
        if self._ownership is None:
            return
        try:
            await self._ownership.check(ctx.tenant, ctx.customer_id)
        except CustomerDenied as exc:
            log.warning(
                "customer not owned by the tenant: refused",
                extra={"tenant": ctx.tenant, "stage": stage, "tool": tool},
            )
            self._audit.submit(
                AuditEvent(
                    kind=AuditKind.AUTH_FAILURE,
                    request_id=ctx.request_id[:128] or None,
                    tenant=ctx.tenant or None,
                    agent=self._agent,
                    outcome="permission_denied",
                    detail={
                        "reason": exc.reason,
                        "stage": stage,
                        "tool": tool,
                        "customer_id": ctx.customer_id,
                    },
                )
            )
            raise

    # -- the caller's confirmations -----------------------------------------------------

    async def confirm(
        self,
        token: str,
        ctx: ToolContext,
        *,
        timeout: float | None,
        approval: Approval | None = None,
    ) -> AgentAnswer:
        """The caller's answer to a confirmation (see :meth:`carry_out`)."""
        done = await self.carry_out(token, ctx, timeout=timeout, approval=approval)
        return done.answer

    async def carry_out(
        self,
        token: str,
        ctx: ToolContext,
        *,
        timeout: float | None,
        approval: Approval | None = None,
    ) -> Confirmed:
        """Runs a confirmed action once; a repeat returns the first run's result.

        An action whose approval is "reviewer" runs only with a reviewer's ``approval``
        (which only the supervisor's Review service passes); the approver and reason are kept
        with the effect. Returns the caller's answer and what the model, resumed from its
        working memory, is told as the action's tool result."""
        claims = self._signer.verify(token, agent=self._agent)
        if (claims.tenant, claims.customer_id) != (ctx.tenant, ctx.customer_id):
            self._record(ctx, claims.tool, claims.action_id, "refused", error="wrong tenant")
            raise InvalidRequest(
                "this action was proposed to another tenant or customer; only they can confirm it"
            )
        await self.check_customer(ctx, tool=claims.tool, stage="confirmation")
        if claims.approval == Approver.REVIEWER.value and approval is None:
            self._record(ctx, claims.tool, claims.action_id, "refused", error="needs a reviewer")
            raise FailedPrecondition(
                "this action needs a reviewer's approval, which the caller cannot give; a "
                "person decides it in the review inbox (read the outcome with GetResult)"
            )
        if claims.tool not in self.tools:
            raise InvalidRequest(f"agent {self._agent!r} may not run tool {claims.tool!r}")
        tool = self.tools.get(claims.tool)
        if not tool.mutating:
            raise InvalidRequest(f"tool {tool.name!r} needs no confirmation")
        try:
            args = tool.validate(claims.args)
        except ModelFeedback as exc:
            raise InvalidRequest(
                f"the confirmed action no longer validates: {exc.message}"
            ) from None
        if self._effects is None:
            raise Unavailable("this agent has no store for tool effects; it cannot run actions")
        if not audit_accepting(self._audit):
            # An action that changes an account must leave an audit trail: refuse it rather
            # than run it unrecorded (the database is down and the local spool full).
            raise Unavailable(
                "the audit log cannot record actions right now, so this action was not carried "
                "out; retry shortly with the same confirm_action"
            )
        ctx = replace(ctx, step=claims.step)
        key = f"action:{claims.action_id}"
        with tool_span(tool.name, claims.action_id, description=tool.description) as span:
            if claims.expired:
                stored = await self._effects.get(key, claims.step, tenant=ctx.tenant)
                if not isinstance(stored, dict):
                    raise InvalidRequest(
                        "this action has expired without being carried out; ask again"
                    )
                answer = self._done(tool, stored, ctx, claims.action_id, replayed=True, span=span)
                return Confirmed(answer, claims.action_id, tool.name, stored)
            try:
                effect = await self._effects.run_once(
                    key,
                    claims.step,
                    tool.name,
                    claims.args,
                    lambda: tool.run(ctx, args, timeout=timeout),
                    tenant=ctx.tenant,
                    approved_by=approval.approved_by if approval else None,
                    approval_reason=approval.reason if approval else None,
                )
            except ModelFeedback as exc:  # the backend refused (already refunded, say)
                mark_error(span, "ModelFeedback", exc.message)
                self._record(ctx, tool.name, claims.action_id, "failed", error=exc.message)
                answer = self._answer(f"The action was not carried out: {exc.message}.")
                return Confirmed(answer, claims.action_id, tool.name, error=exc.message)
            except EffectPending:
                raise InProgress(
                    "this action is still being carried out; ask again shortly for its result"
                ) from None
            except EffectMismatch as exc:
                raise Conflict(exc.message) from None
            result = effect.result if isinstance(effect.result, dict) else {}
            answer = self._done(
                tool, result, ctx, claims.action_id, effect.replayed, span, approval=approval
            )
            return Confirmed(answer, claims.action_id, tool.name, result)

    async def model_result(self, done: Confirmed, ctx: ToolContext, tool_use_id: str) -> ToolResult:
        """A confirmed action's outcome as the tool result of the model's ``tool_use``:
        its output screened like any tool output, or why it did not run."""
        if done.error is not None:
            return ToolResult(tool_use_id, done.error, is_error=True)
        text, _ = await self._for_model(done.tool, done.output, ctx, trace.get_current_span())
        return ToolResult(tool_use_id, text)

    def _done(
        self,
        tool: Tool[Any],
        result: dict[str, Any],
        ctx: ToolContext,
        action_id: str,
        replayed: bool,
        span: Any,
        approval: Approval | None = None,
    ) -> AgentAnswer:
        outcome: ToolOutcome = "replayed" if replayed else "executed"
        span.set_attribute("switchboard.tool.outcome", outcome)
        self._record(
            ctx,
            tool.name,
            action_id,
            outcome,
            result=result,
            approved_by=approval.approved_by if approval else None,
            approval_reason=approval.reason if approval else None,
        )
        return self._answer(tool.result_text(result))

    def _answer(self, text: str) -> AgentAnswer:
        return AgentAnswer(
            agent=self._agent,
            text=text,
            outcome=Outcome.ANSWERED,
            mode=AnswerMode.NONE,
            confidence=1.0,
        )

    # -- audit ---------------------------------------------------------------------------

    def _record(
        self, ctx: ToolContext, tool: str, call_id: str, outcome: ToolOutcome, **detail: Any
    ) -> None:
        self._audit.submit(
            AuditEvent(
                kind=AuditKind.TOOL_CALL,
                request_id=ctx.request_id[:128] or None,
                tenant=ctx.tenant or None,
                agent=self._agent,
                outcome=outcome,
                detail={
                    "tool": tool,
                    "call_id": call_id,
                    "step": ctx.step,
                    "customer_id": ctx.customer_id,
                    **{k: v for k, v in detail.items() if v is not None},
                },
            )
        )

    def _refusal(
        self, ctx: ToolContext, source: str, reason: str, score: float, **more: Any
    ) -> None:
        self._audit.submit(
            screened_event(
                agent=self._agent,
                request_id=ctx.request_id,
                tenant=ctx.tenant,
                source=source,
                reason=reason,
                score=score,
                **more,
            )
        )
