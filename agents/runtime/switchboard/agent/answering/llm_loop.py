"""The LLM path: Claude, its tool calls and their results, until a final answer.

A bounded loop within the agent's turn limit and the request's token and cost budget, and at
most ``max_tool_calls_per_turn`` tool calls run per model turn (the rest are answered "not
run"). A tool that changes something ends the loop with NEEDS_CONFIRMATION. The loop's state
is saved after each step (working memory, ``loop_state.py``), so the confirmation resumes the
model where it stopped, on any replica (:meth:`LLMAnswerer.resume`). Every model call
reports to the LLM circuit breaker, except a rejection of our own request (HTTP 4xx), which
says nothing of the provider; anything unexpected the LLM client raises is a provider fault
(an ``UpstreamError``), never an agent failure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry import trace

from switchboard.agent.answering import answers
from switchboard.agent.answering.answers import Tally
from switchboard.agent.answering.loop_state import LoopState, awaiting
from switchboard.agent.answering.prompting import (
    GROUNDING_RULES,
    Prompt,
    build_prompt,
    estimate_tokens,
)
from switchboard.agent.answering.streaming import AnswerStream, TextRelay
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.store import Hit
from switchboard.agent.memory.window import render_window, with_conversation
from switchboard.agent.memory.working import WorkingMemory
from switchboard.agent.prompt_versions import PromptChoice
from switchboard.agent.tools import ToolContext
from switchboard.agent.tools.runner import Confirmed, ToolRunner
from switchboard.core.action_ids import action_expiry
from switchboard.core.breaker import CircuitBreaker
from switchboard.core.budget import Budget
from switchboard.core.context import RequestContext
from switchboard.core.errors import SwitchboardError, UpstreamError, UpstreamRejected
from switchboard.core.llm import (
    LLM,
    Block,
    Completion,
    Message,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from switchboard.core.llm_stream import StreamingLLM
from switchboard.core.pricing import ModelPrice, estimate_cost
from switchboard.core.streaming import RESET_TOOL_USE, UsageSoFar
from switchboard.core.types import AgentAnswer, AgentRequest, Outcome, PendingAction, Screening
from switchboard.store.working_types import Awaiting, ScratchPad

log = logging.getLogger(__name__)

MIN_OUTPUT_TOKENS = 16
#: A model or tool call needs at least this long left to start. It gets all the time left:
#: when the caller's deadline passes first, gRPC cancels the call, which is not the
#: provider's failure (the breaker does not count it).
CALL_MARGIN_S = 0.05


_OVER_CAP = "not run: at most {cap} tool calls are run per turn; ask for fewer at once"


@dataclass
class LLMAnswerer:
    config: AgentConfig
    llm: LLM
    breaker: CircuitBreaker
    prices: dict[str, ModelPrice]
    system_prompt: str
    tools: ToolRunner | None = None
    window_share: float = 0.35  # of context_token_budget, for the conversation (memory)
    memory: WorkingMemory | None = None  # the loop's scratch-pad, saved per step

    def __post_init__(self) -> None:
        self._specs: list[ToolSpec] = self.tools.tools.specs() if self.tools is not None else []
        self._specs_tokens = estimate_tokens(json.dumps([t.model_dump() for t in self._specs]))

    async def answer(
        self,
        ctx: RequestContext,
        request: AgentRequest,
        text: str,
        hits: list[Hit],
        tally: Tally,
        *,
        version: PromptChoice | None = None,
        events: AnswerStream | None = None,
    ) -> AgentAnswer | None:
        """The final answer, or None when the turn limit ran out before one. ``version``:
        the prompt version that answers (prompt text, rules, max tokens); else prompt.md.
        With ``events`` each turn streams (when the LLM can): its text is relayed as it
        arrives, and a turn that ends in tool calls is taken back (a reset) since only the
        last turn answers."""
        c = self.config.llm
        max_tokens = c.max_tokens if version is None else version.max_tokens
        guarded = request.screening == Screening.SUSPICIOUS
        if guarded:
            trace.get_current_span().set_attribute("switchboard.guard.prompt", True)
        # The conversation takes at most its share of the context budget; passages the rest.
        window = render_window(
            request.conversation,
            request.handoff,
            int(c.context_token_budget * self.window_share),
            request.memories,
        )
        prompt: Prompt = build_prompt(
            self.system_prompt if version is None else version.system_prompt,
            text,
            hits,
            c.context_token_budget - window.tokens,
            tools=bool(self._specs),
            guarded=guarded,
            rules=GROUNDING_RULES if version is None else version.rules,
        )
        prompt = with_conversation(prompt, window)
        loop = LoopState.start(
            ctx, self.config.name, prompt, max_tokens, version.ref if version is not None else ""
        )
        return await self._turns(ctx, loop, tally, events)

    async def resume(
        self,
        ctx: RequestContext,
        pad: ScratchPad,
        confirmed: Confirmed,
        tally: Tally,
    ) -> AgentAnswer | None:
        """Goes on with a loop that stopped for a confirmation, on whichever replica the
        confirmation reached: the confirmed action's outcome (``confirmed``: it has run)
        becomes the result of the ``tool_use`` that proposed it, the turn's later calls run,
        and the model carries on within the turn limit (turns of the first request count)
        and this request's budget. None: no final answer (turn limit)."""
        waiting = pad.awaiting
        if waiting is None or self.tools is None:
            return None  # nothing awaited this action
        loop = LoopState.resumed(pad)
        tally.tool_outputs.extend(loop.tool_outputs())
        tally.tool_outputs.extend(b.content for b in waiting.done if not b.is_error)
        result = await self.tools.model_result(
            confirmed, ToolContext.of(ctx, self.config.name), waiting.tool_use_id
        )
        if not result.is_error:
            tally.tool_outputs.append(result.content)
        results = [*(b.result() for b in waiting.done), result]
        calls = [b.call() for b in waiting.remaining]
        stop = await self._run_calls(ctx, loop, calls, waiting.next_index, results, tally)
        if stop is not None:
            return await self._stopped(ctx, loop, tally, *stop)
        loop.messages.append(Message("user", tuple(results)))
        answer = await self._turns(ctx, loop, tally, None)
        if answer is not None and pad.prompt_version:
            return answer.model_copy(update={"prompt_version": pad.prompt_version})
        return answer

    async def _turns(
        self,
        ctx: RequestContext,
        loop: LoopState,
        tally: Tally,
        events: AnswerStream | None,
    ) -> AgentAnswer | None:
        """Model turns until a final answer, a proposed action, or the turn limit (None).
        The loop's state is saved after each turn's tool results (working memory)."""
        c = self.config.llm
        budget = ctx.budget
        floor = self.config.retrieval.min_score
        limit = c.max_turns if self._specs else 1
        strict = c.uncited == "escalate"
        while loop.turns < limit:
            tooled = loop.used_tools()  # strict and none yet: the text waits for a citation
            completion, budget = await self._complete(
                ctx, loop.prompt, loop.messages, budget, tally, loop.max_tokens, events,
                strict and not tooled,
            )  # fmt: skip
            loop.turns += 1
            if not completion.tool_calls or self.tools is None:
                await self._finished(ctx, loop)
                if not completion.text.strip():
                    return None
                answer = answers.written(
                    self.config.name,
                    completion.text,
                    loop.prompt.passages,
                    floor,
                    tally,
                    escalate_uncited=strict,
                    used_tools=tooled,
                )
                if answer.outcome is Outcome.ESCALATED:
                    log.info("escalating: the model's answer cites no passage and no tool")
                return answer
            blocks: list[Block] = [completion.text] if completion.text else []
            loop.messages.append(Message("assistant", (*blocks, *completion.tool_calls)))
            cap = c.max_tool_calls_per_turn
            if len(completion.tool_calls) > cap:
                log.warning(
                    "too many tool calls in one model turn: only the first ones run",
                    extra={"calls": len(completion.tool_calls), "cap": cap},
                )
                trace.get_current_span().set_attribute(
                    "switchboard.tools.refused_over_cap", len(completion.tool_calls) - cap
                )
            results: list[ToolResult] = []
            stop = await self._run_calls(ctx, loop, completion.tool_calls, 0, results, tally)
            if stop is not None:
                return await self._stopped(ctx, loop, tally, *stop)
            loop.messages.append(Message("user", tuple(results)))
            await self._save(ctx, loop, tally)
        await self._finished(ctx, loop)
        return None

    async def _run_calls(
        self,
        ctx: RequestContext,
        loop: LoopState,
        calls: Sequence[ToolCall],
        first: int,
        results: list[ToolResult],
        tally: Tally,
    ) -> tuple[PendingAction, Awaiting] | None:
        """Runs one turn's tool calls from call number ``first`` of the turn, adding their
        results; stops at a proposed action (and says where the turn stopped)."""
        assert self.tools is not None
        cap = self.config.llm.max_tool_calls_per_turn
        for offset, call in enumerate(calls):
            index = first + offset
            if index >= cap:  # every tool_use needs its tool_result; these did not run
                results.append(ToolResult(call.id, _OVER_CAP.format(cap=cap), is_error=True))
                continue
            loop.step += 1
            tally.tools.append(call.name)
            outcome = await self.tools.call(
                call,
                ToolContext.of(ctx, self.config.name, loop.step),
                timeout=ctx.deadline.timeout("the next tool call", at_least=CALL_MARGIN_S),
            )
            if isinstance(outcome, PendingAction):
                action_id = self.tools.action_id(outcome)
                rest = calls[offset + 1 :]
                return outcome, awaiting(action_id, call, results, rest, index + 1)
            if not outcome.is_error:
                tally.tool_outputs.append(outcome.content)
            results.append(outcome)
        return None

    async def _stopped(
        self,
        ctx: RequestContext,
        loop: LoopState,
        tally: Tally,
        pending: PendingAction,
        waiting: Awaiting,
    ) -> AgentAnswer:
        """The loop waits for the caller to confirm ``pending``: saved so the confirmation
        resumes it (until the action expires)."""
        if self.memory is not None:
            loop.saved = await self.memory.save(
                ctx, loop.pad(tally, waiting), until=action_expiry(pending.id)
            )
        floor = self.config.retrieval.min_score
        return answers.proposed(self.config.name, pending, loop.prompt.passages, floor, tally)

    async def _save(self, ctx: RequestContext, loop: LoopState, tally: Tally) -> None:
        if self.memory is not None:
            loop.saved = await self.memory.save(ctx, loop.pad(tally), until=None) or loop.saved

    async def _finished(self, ctx: RequestContext, loop: LoopState) -> None:
        """The loop is over: its scratch-pad goes (it holds the user's text)."""
        if self.memory is not None and loop.saved:
            await self.memory.delete(ctx, loop.origin)
            loop.saved = False

    async def _complete(
        self,
        ctx: RequestContext,
        prompt: Prompt,
        messages: list[Message],
        budget: Budget,
        tally: Tally,
        output_tokens: int,
        events: AnswerStream | None = None,
        until_cited: bool = False,
    ) -> tuple[Completion, Budget]:
        """One model call within the deadline and the budget; reports to the breaker.
        ``until_cited``: streamed text is held until it cites a passage (``TextRelay``).

        The call gets all the time left: when the caller's deadline passes first, gRPC
        cancels the call, which is not the provider's failure (the breaker does not count it).
        """
        timeout = ctx.deadline.timeout("the next LLM call", at_least=CALL_MARGIN_S)
        system = prompt.system
        estimated = (
            estimate_tokens(system)
            + sum(estimate_tokens(json.dumps(m.to_api()["content"])) for m in messages)
            + (self._specs_tokens if self._specs else 0)
        )
        budget.require_llm("the agent's answer", min_tokens=estimated + MIN_OUTPUT_TOKENS)
        max_tokens = max(MIN_OUTPUT_TOKENS, budget.cap_output(output_tokens, estimated))
        try:
            if events is not None and isinstance(self.llm, StreamingLLM):
                relay = TextRelay(
                    events,
                    prompt.passages,
                    output_cap=None if budget.tokens is None else budget.tokens - estimated,
                    input_tokens=tally.input_tokens + estimated,
                    earlier_output=tally.output_tokens,
                    until_cited=until_cited,
                )
                completion = await self.llm.stream(
                    system=system,
                    messages=messages,
                    max_tokens=max_tokens,
                    tools=self._specs,
                    timeout=timeout,
                    on_text=relay,
                )
                await relay.close()
                if completion.tool_calls:
                    await events.reset(RESET_TOOL_USE)  # only the last turn's text answers
            else:
                completion = await self.llm.complete(
                    system=system,
                    messages=messages,
                    max_tokens=max_tokens,
                    tools=self._specs,
                    timeout=timeout,
                )
        except UpstreamRejected:
            raise  # our request was wrong: no verdict on the provider (the probe is released)
        except UpstreamError:
            tally.verdict = True
            await self.breaker.failed()
            raise
        except SwitchboardError:
            raise  # a budget or deadline of ours, not the provider's doing
        except Exception as exc:
            # The LLM interface promises UpstreamError; anything else from it is a provider
            # response it did not expect: an LLM fault, never INTERNAL from the agent.
            log.warning("LLM client raised unexpectedly", extra={"error": type(exc).__name__})
            tally.verdict = True
            await self.breaker.failed()
            raise UpstreamError(f"LLM call failed unexpectedly: {type(exc).__name__}") from exc
        tally.verdict = True
        await self.breaker.succeeded()
        model = completion.model or self.llm.model
        cost = estimate_cost(model, completion.usage, self.prices)
        tally.add(completion, model, cost)
        if events is not None:
            await events.emit(UsageSoFar(tally.input_tokens, tally.output_tokens))
        spent = completion.usage.total_input_tokens + completion.usage.output_tokens
        return completion, budget.spend(tokens=spent, cost_usd=cost)
