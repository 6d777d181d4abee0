"""The agent's request path: find passages, then answer with Claude (and tools) or offline.

Confirmations of proposed actions skip retrieval: the tool runner carries them out once, and
the model loop that proposed the action goes on from its working memory (the shared store)
with the action's result; offline, or with nothing saved, the answer is that result. With
nothing relevant retrieved the request is escalated to a person. The LLM sits behind a
circuit breaker: while it is open, or when the provider fails, the answer comes from
the offline backend at once. Every answer is screened before it leaves (``output_screen``):
a flagged LLM answer is replaced by the offline one, a flagged offline answer escalates, and
each is audited with its reason. Each step is its own module; this one only orders them.
"""

from __future__ import annotations

import logging

from opentelemetry import trace

from switchboard.agent.answering import answers
from switchboard.agent.answering.answers import Tally
from switchboard.agent.answering.llm_loop import LLMAnswerer
from switchboard.agent.answering.loop_state import hit
from switchboard.agent.answering.offline import OfflineAnswerer
from switchboard.agent.answering.output_screen import OutputScreen
from switchboard.agent.answering.streaming import AnswerStream
from switchboard.agent.auditing import screened_event
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.passages import PassageFinder
from switchboard.agent.knowledge.store import Hit
from switchboard.agent.memory.followup import standalone_query
from switchboard.agent.memory.working import WorkingMemory
from switchboard.agent.prompt_versions import PromptChoice, PromptResolver, VersionScreens
from switchboard.agent.tools import ToolContext
from switchboard.agent.tools.runner import Confirmed, ToolRunner
from switchboard.core.audit import AuditSink, NoAudit
from switchboard.core.breaker import CircuitBreaker
from switchboard.core.context import RequestContext
from switchboard.core.errors import (
    DeadlineExceeded,
    InvalidRequest,
    ResourceExhausted,
    UpstreamError,
)
from switchboard.core.genai import AGENT_NAME, PROMPT_VERSION
from switchboard.core.streaming import RESET_LLM_FAILED, RESET_OUTPUT_SCREENED
from switchboard.core.textcheck import validate_text
from switchboard.core.types import AgentAnswer, AgentRequest

log = logging.getLogger(__name__)


class AgentRuntime:
    def __init__(
        self,
        config: AgentConfig,
        *,
        finder: PassageFinder,
        offline: OfflineAnswerer,
        breaker: CircuitBreaker,
        max_text_chars: int,
        llm: LLMAnswerer | None = None,
        tools: ToolRunner | None = None,
        output: OutputScreen | None = None,
        audit: AuditSink | None = None,
        prompts: PromptResolver | None = None,
        screens: VersionScreens | None = None,
        memory: WorkingMemory | None = None,
    ) -> None:
        self.config = config
        self.finder = finder
        self.retriever = finder.retriever
        self.breaker = breaker
        self._offline = offline
        self._llm = llm
        self._tools = tools
        self._max_text_chars = max_text_chars
        self._output = output
        self._audit: AuditSink = audit or NoAudit()
        self.prompts = prompts
        self._screens = screens
        self.working_memory = memory  # the tool loop's scratch-pads (None: off)

    async def answer(
        self, ctx: RequestContext, request: AgentRequest, events: AnswerStream | None = None
    ) -> AgentAnswer:
        """Answers one request within ``ctx``'s deadline and budget, stamped with the prompt
        version that answered (``prompt_versions``); with ``events``, streams the answer as it
        is written (``answering/streaming.py``; the caller sends the final answer after
        ``events.finish``)."""
        span = trace.get_current_span()
        span.set_attribute(AGENT_NAME, self.config.name)
        if self.prompts is None:
            return await self._answer(ctx, request, None, events)
        version = await self.prompts.choose(ctx)
        span.set_attributes(
            {
                PROMPT_VERSION: version.ref,
                "switchboard.prompt.version": version.ref,
                "switchboard.prompt.label": self.prompts.label,
                "switchboard.prompt.source": version.source,
            }
        )
        answer = await self._answer(ctx, request, version, events)
        self.prompts.answered(version.ref)
        # A resumed loop is stamped with the version that started it (what wrote the answer).
        return answer.model_copy(update={"prompt_version": answer.prompt_version or version.ref})

    async def _answer(
        self,
        ctx: RequestContext,
        request: AgentRequest,
        version: PromptChoice | None,
        events: AnswerStream | None,
    ) -> AgentAnswer:
        text = validate_text(request.text, max_chars=self._max_text_chars)
        if request.confirm_action:
            return await self._confirm(ctx, request, version)
        if self._tools is not None and ctx.customer_id:
            # Before any retrieval or model call: a foreign customer id is refused outright.
            await self._tools.check_customer(ToolContext.of(ctx, self.config.name), stage="request")
        # A follow-up is retrieved as a standalone question (memory/followup.py).
        query_text = standalone_query(text, request.conversation)
        given = request.query_embedding if query_text == text else None
        found = await self.finder.find(ctx, query_text, given)
        floor = self.config.retrieval.min_score
        if not found.relevant:
            log.info(
                "escalating: nothing relevant retrieved",
                extra={"top": answers.top_score(found.hits)},
            )
            return answers.escalated(self.config.name, found.hits, floor)
        tally = Tally()
        if events is not None and self._output is not None:
            hits = found.relevant
            events.screen_with(
                self._output.streaming(lambda: [*(h.text for h in hits), *tally.tool_outputs])
            )
        if self._llm is not None:
            answer = await self._with_llm(
                self._llm, ctx, request, text, found.relevant, tally, version, events
            )
            screened = self._screened(ctx, answer, found.relevant, tally, version)
            if screened is not None:
                return screened
            if events is not None:  # what was shown is not the answer
                await events.reset(RESET_LLM_FAILED if answer is None else RESET_OUTPUT_SCREENED)
        # Quote what answers the turn itself; the conversation chose the passages, and the
        # standalone question picks the quote only when the turn's own words cannot.
        turn_vector = (
            found.query
            if query_text == text
            else await self.finder.query_vector(text, request.query_embedding)
        )
        offline = await self._offline.answer(
            ctx,
            text,
            turn_vector,
            [*found.relevant, *found.more],
            tally,
            standalone=None if query_text == text else (query_text, found.query),
        )
        if self._passes(ctx, offline, found.relevant, tally, version):
            if events is not None:
                await events.sentences(offline.text)
            return offline
        return answers.escalated(self.config.name, found.hits, floor)

    def _screened(
        self,
        ctx: RequestContext,
        answer: AgentAnswer | None,
        hits: list[Hit],
        tally: Tally,
        version: PromptChoice | None,
    ) -> AgentAnswer | None:
        """The model's answer as it may leave, or None: the output screen withheld it. A
        withheld draft (strict grounding) goes to a reviewer, who may pass it on to the
        caller: it is screened as an answer would be, and dropped when flagged."""
        if answer is None or not self._passes(ctx, answer, hits, tally, version):
            return None
        if answer.withheld_draft and not self._passes(
            ctx, answer, hits, tally, version, draft=True
        ):
            return answer.model_copy(update={"withheld_draft": ""})
        return answer

    def _passes(
        self,
        ctx: RequestContext,
        answer: AgentAnswer,
        hits: list[Hit],
        tally: Tally,
        version: PromptChoice | None = None,
        *,
        draft: bool = False,
    ) -> bool:
        """True when the output screen lets ``answer`` leave (with ``draft``: lets its
        withheld draft reach a reviewer); a flagged one is audited (``source``: ``output``,
        or ``output_draft``)."""
        output = self._output
        if version is not None and self._screens is not None and output is not None:
            output = self._screens.of(version)  # leaks of the version's own text
        if output is None:
            return True
        verdict = output.check(
            answer.withheld_draft if draft else answer.text,
            [*(h.text for h in hits), *tally.tool_outputs],
        )
        if not verdict.flagged:
            return True
        log.warning(
            "withheld draft dropped by output screening"
            if draft
            else "answer withheld by output screening",
            extra={"reason": verdict.reason, "mode": answer.mode.value},
        )
        span = trace.get_current_span()
        span.set_attribute(
            "switchboard.output.draft_blocked" if draft else "switchboard.output.blocked",
            verdict.reason,
        )
        self._audit.submit(
            screened_event(
                agent=self.config.name,
                request_id=ctx.request_id,
                tenant=ctx.tenant,
                source="output_draft" if draft else "output",
                reason=verdict.reason,
                score=1.0,
                mode=answer.mode.value,
                status=answer.outcome.value,
                evidence=verdict.evidence,
            )
        )
        return False

    async def _with_llm(
        self,
        llm: LLMAnswerer,
        ctx: RequestContext,
        request: AgentRequest,
        text: str,
        hits: list[Hit],
        tally: Tally,
        version: PromptChoice | None = None,
        events: AnswerStream | None = None,
    ) -> AgentAnswer | None:
        """Claude's answer, or None: answer offline (breaker open, provider failed, no final
        answer within the turn limit)."""
        if not self.breaker.allow():
            log.info(
                "LLM circuit open: answering offline",
                extra={"retry_after_s": round(self.breaker.retry_after_s, 1)},
            )
            trace.get_current_span().set_attribute("switchboard.breaker.llm", "open")
            return None
        try:
            answer = await llm.answer(
                ctx, request, text, hits, tally, version=version, events=events
            )
        except UpstreamError as exc:
            log.warning("LLM failed; answering offline", extra={"error": exc.message})
            return None
        finally:
            if not tally.verdict:
                self.breaker.release_probe()  # admitted as a probe but never judged
        if answer is None:
            log.warning(
                "no final answer within the turn limit; answering offline",
                extra={"max_turns": self.config.llm.max_turns, "tools": tally.tools},
            )
        return answer

    async def _confirm(
        self, ctx: RequestContext, request: AgentRequest, version: PromptChoice | None
    ) -> AgentAnswer:
        """Carries the confirmed action out once, then resumes the model loop that proposed
        it from working memory; when that cannot be done (offline, nothing saved, the model
        failed, its answer withheld) the answer is the action's result, as it always was."""
        if self._tools is None:
            raise InvalidRequest(f"agent {self.config.name!r} has no tools to confirm")
        done = await self._tools.carry_out(
            request.confirm_action,
            ToolContext.of(ctx, self.config.name),
            timeout=ctx.deadline.timeout("the confirmed action could run"),
            approval=request.approval,
        )
        resumed = await self._resume(ctx, done, version)
        return done.answer if resumed is None else resumed

    async def _resume(
        self, ctx: RequestContext, done: Confirmed, version: PromptChoice | None
    ) -> AgentAnswer | None:
        llm, memory = self._llm, self.working_memory
        if llm is None or memory is None:
            return None
        pad = await memory.load(ctx, done.action_id)
        if pad is None or pad.awaiting is None:
            return None
        if (pad.agent, pad.customer_id) != (self.config.name, ctx.customer_id):
            log.warning("working memory of another agent or customer: not resumed")
            return None
        span = trace.get_current_span()
        if not self.breaker.allow():
            span.set_attribute("switchboard.breaker.llm", "open")
            log.info("LLM circuit open: the confirmation answers with the action's result")
            return None
        span.set_attribute("switchboard.working_memory.resumed", True)
        tally = Tally()
        # The action has run: its result reaches the caller whatever the model does (with
        # the tokens of any model call made, which are billed all the same).
        fallback = None
        try:
            answer = await llm.resume(ctx, pad, done, tally)
        except (UpstreamError, ResourceExhausted, DeadlineExceeded) as exc:
            log.warning(
                "could not resume the model after the action; answering with its result",
                extra={"error": exc.message},
            )
            answer = None
        finally:
            if not tally.verdict:
                self.breaker.release_probe()  # admitted as a probe but never judged
        if tally.calls:
            fallback = done.answer.model_copy(update={"usage": tally.report(self.config.name)})
        if answer is None:
            return fallback
        hits = [hit(p) for p in pad.passages]
        return self._screened(ctx, answer, hits, tally, version) or fallback
