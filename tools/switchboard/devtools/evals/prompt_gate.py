"""The promotion gate: a candidate prompt version against the one its label serves now.

Both versions are evaluated the same way: the static checks (``prompt_checks``) and the
agent's behaviour cases (``tests/data/behaviour.yaml``: its answer and escalate cases),
each run through the agent's own composition root with the version pinned
(``SWITCHBOARD_PROMPTS_PIN``). Without an API key the agent answers offline, where the
prompt text plays no part: there the behaviour cases show the version resolves and the
agent still answers, and only the static checks judge the prompt. With
``ANTHROPIC_API_KEY`` set the cases run with Claude under each version's prompt, and the
behaviour figures compare the prompts themselves.

The gate refuses when any static check of the candidate fails, or when any figure of the
candidate is lower than the current version's by more than the tolerance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from switchboard.agent.app import Overrides, build_agent
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.store import VectorStore, open_store
from switchboard.agent.settings import AgentSettings
from switchboard.core.audit import NoAudit
from switchboard.core.context import Deadline, RequestContext
from switchboard.core.embeddings import Embedder
from switchboard.core.errors import FailedPrecondition
from switchboard.core.llm import LLM
from switchboard.core.types import AgentRequest, Outcome
from switchboard.core.wire import citation_to_proto, status_to_proto
from switchboard.devtools.evals.behaviour import PROFILES, Case, Kind, check_reply, load_cases
from switchboard.devtools.evals.prompt_checks import Check, static_checks
from switchboard.store import PromptVersion, Store
from switchboard.v1 import supervisor_pb2

CASE_TIMEOUT_S = 60.0
DEFAULT_TOLERANCE = 0.02


@dataclass
class Evaluation:
    """One version's figures (fractions in [0, 1]) and what failed."""

    version: str
    checks: list[Check]
    scores: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@dataclass
class GateReport:
    agent: str
    candidate: Evaluation
    current: Evaluation | None
    tolerance: float
    backend: str  # offline | llm
    refusals: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.refusals

    def table(self) -> str:
        """Both versions side by side, one figure per line."""
        cur = self.current
        head = f"{'':<44} {cur.version if cur else '(none)':>16} {self.candidate.version:>16}"
        lines = [head]
        for name, value in self.candidate.scores.items():
            before = f"{cur.scores.get(name, 0.0):.3f}" if cur else "-"
            lines.append(f"{name:<44} {before:>16} {value:>16.3f}")
        for check in self.candidate.checks:
            mark = "ok" if check.passed else f"FAILED {check.detail}"
            lines.append(f"  check {check.name:<36} {mark}")
        return "\n".join(lines)


def agent_cases(cases: Sequence[Case], agent: str) -> list[Case]:
    """The cases one agent answers alone: its answer and escalate cases, single turn."""
    return [
        c
        for c in cases
        if c.kind in (Kind.ANSWER, Kind.ESCALATE)
        and c.agent == agent
        and not c.requires
        and not c.turns
        and not c.route_method
    ]


@dataclass
class GateRunner:
    """Evaluates versions of one agent; ``vectors``/``embedder``/``llm`` replace what the
    composition root would build (tests, a shared embedder)."""

    config: AgentConfig
    settings: AgentSettings
    store: Store
    embedder: Embedder
    cases: list[Case]
    vectors: VectorStore | None = None
    llm: LLM | None = None

    @property
    def backend(self) -> str:
        return "llm" if self.llm is not None or self.settings.llm.enabled else "offline"

    def model(self) -> str:
        return self.settings.llm.model or self.config.llm.model

    async def evaluate(self, version: PromptVersion, baseline: PromptVersion | None) -> Evaluation:
        checks = static_checks(version, self.config, model=self.model(), baseline=baseline)
        result = Evaluation(version.ref, checks)
        result.scores["static checks passed"] = sum(c.passed for c in checks) / len(checks)
        await self._behaviour(version, result)
        return result

    async def _behaviour(self, version: PromptVersion, result: Evaluation) -> None:
        prompts = self.settings.prompts.model_copy(update={"pin": version.number})
        settings = self.settings.model_copy(update={"prompts": prompts})
        if self.vectors is None:
            self.vectors = await asyncio.to_thread(open_store, self.config, self.settings)
        if await asyncio.to_thread(self.vectors.count) == 0:
            raise FailedPrecondition(
                f"{self.config.name}'s knowledge store is empty: run 'switchboard ingest' "
                "first (the gate answers the behaviour cases from it)"
            )
        overrides = Overrides(
            embedder=self.embedder,
            llm=self.llm,
            vector_store=self.vectors,
            store=self.store,
            audit=NoAudit(),  # evaluation requests are not traffic
        )
        profile = PROFILES[self.backend]
        passed = grounded = answered = 0
        async with build_agent(self.config, settings, overrides) as app:
            for case in self.cases:
                ctx = RequestContext(
                    request_id=f"gate-{case.id}",
                    session_id=f"gate-{case.id}",
                    deadline=Deadline.after(CASE_TIMEOUT_S),
                )
                answer = await app.runtime.answer(ctx, AgentRequest(text=case.text))
                if answer.prompt_version != version.ref:
                    raise FailedPrecondition(
                        f"the agent answered with {answer.prompt_version}, not {version.ref}"
                    )
                reply = supervisor_pb2.AskResponse(
                    answer=answer.text,
                    agent=answer.agent,
                    status=status_to_proto(answer.outcome),
                    citations=[citation_to_proto(c) for c in answer.citations],
                    mode=answer.mode.value,
                )
                reasons = check_reply(case, reply, profile)
                passed += not reasons
                if reasons:
                    result.failures.append(f"{case.id}: {'; '.join(reasons)}")
                # An uncited answer counts against grounding whether it was sent or, with
                # llm.uncited: escalate, handed to a person.
                if answer.outcome in (Outcome.ANSWERED, Outcome.DEGRADED) or answer.uncited:
                    answered += 1
                    grounded += bool(answer.citations) and not answer.uncited
        total = max(1, len(self.cases))
        result.scores["behaviour cases passed"] = passed / total
        result.scores["answers grounded in citations"] = grounded / max(1, answered)


async def run_gate(
    runner: GateRunner,
    candidate: PromptVersion,
    current: PromptVersion | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    baseline: PromptVersion | None = None,
) -> GateReport:
    """Evaluates both versions and decides (see the module docstring). ``baseline``: the
    version new injection-like text is judged against when the label is new (default:
    ``current``)."""
    new = await runner.evaluate(candidate, current or baseline)
    old = None if current is None else await runner.evaluate(current, current)
    report = GateReport(runner.config.name, new, old, tolerance, runner.backend)
    report.refusals += [f"check '{c.name}' failed: {c.detail}" for c in new.checks if not c.passed]
    if old is not None:
        for name, value in new.scores.items():
            before = old.scores.get(name, 0.0)
            if value < before - tolerance:
                report.refusals.append(
                    f"{name} dropped from {before:.3f} to {value:.3f} (tolerance {tolerance:.3f})"
                )
    return report


def load_agent_cases(path: Path, agent: str) -> list[Case]:
    return agent_cases(load_cases(path), agent)
