"""The behaviour suite against the real services: offline backend, and the Claude path.

Every case whose capabilities the supervisor has must pass, on both paths. Cases that need a
capability still being built are skipped with a warning naming it; once the probe finds the
capability they run here like the rest. Under CI=true a failed capability probe fails the
run: a feature must not quietly stop being tested.
"""

from __future__ import annotations

import html
import os
import re
import warnings
from collections.abc import Sequence
from typing import Any

import pytest

from switchboard.client import SupervisorClient
from switchboard.devtools.evals.behaviour import (
    PROFILES,
    Capability,
    Case,
    Kind,
    Profile,
    load_cases,
)
from switchboard.devtools.evals.behaviour_report import CaseResult, summarise
from switchboard.devtools.evals.behaviour_run import probe_all, run_case, skip_reasons
from tests.conftest import ROOT
from tests.fakes.fake_anthropic import FakeAnthropic, Reply, last_user_text
from tests.system.conftest import Stack, grounded_responder

pytestmark = pytest.mark.integration

CASES = load_cases(ROOT / "tests" / "data" / "behaviour.yaml")
STRICT = os.environ.get("CI", "").lower() == "true"
ROUTING_TOOL = "choose_agent"
# The fake model: its prose is not the knowledge base's, so facts are checked separately.
FAKE_LLM = Profile("fake-llm", frozenset({"ANSWERED"}), llm_facts=False)


def report(results: Sequence[CaseResult], capabilities: dict[Capability, bool]) -> str:
    summary = summarise(results, capabilities)
    skipped = [r for r in results if r.outcome == "skipped"]
    if skipped:
        missing = sorted({c.value for c, ok in capabilities.items() if not ok})
        warnings.warn(
            f"{len(skipped)} behaviour cases skipped: the supervisor lacks {missing}",
            stacklevel=2,
        )
    lines = [f"{r.outcome:8s} {r.id}: {'; '.join(r.reasons)}" for r in results if r.reasons]
    lines.append(f"passed {summary['passed']}/{summary['ran']}, skipped {summary['skipped']}")
    return "\n".join(lines)


def assert_all_ran_and_passed(
    results: Sequence[CaseResult], capabilities: dict[Capability, bool]
) -> None:
    text = report(results, capabilities)
    print("\n" + text)
    for case, result in zip(CASES, results, strict=True):
        # a case is skipped only for a capability the probe did not find (never under CI)
        missing = bool(skip_reasons(case, capabilities))
        assert (result.outcome == "skipped") == (missing and not STRICT), case.id
    assert not [r for r in results if r.outcome == "failed"], text
    assert sum(r.outcome == "passed" for r in results) >= 30


async def test_offline_backend_passes_every_case(offline_stack: Stack) -> None:
    profile = PROFILES["offline"]
    async with SupervisorClient(offline_stack.supervisor.address) as client:
        capabilities = await probe_all(client, (c for case in CASES for c in case.requires))
        results = [
            await run_case(client, case, profile, capabilities, strict=STRICT) for case in CASES
        ]
    for result in results:
        if result.kind in (Kind.ANSWER, Kind.COMPOUND) and result.reply is not None:
            assert result.reply.mode == "offline-extractive", result.id
    assert_all_ran_and_passed(results, capabilities)


def declining_router(body: dict[str, Any]) -> Reply:
    """Claude as the fake plays it, except that as router it cannot decide either ("none").

    So requests the embedding router leaves open end as they do offline (clarify or out of
    scope), and any case that needed the model to route would show up as a failure.
    """
    tools = body.get("tools") or []
    if any(t.get("name") == ROUTING_TOOL for t in tools):
        return Reply.tool_use(
            ROUTING_TOOL,
            {"agent": "none", "confidence": 0.3, "reason": "fake router: unclear"},
            input_tokens=210,
            output_tokens=30,
        )
    return grounded_responder({k: v for k, v in body.items() if k != "tools"})


def plain(text: str) -> str:
    """Prompt text as the answer would quote it: unescaped, no emphasis, one space."""
    return re.sub(r"\s+", " ", re.sub(r"[*`]", "", html.unescape(text))).lower()


def split(bodies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    routing = [b for b in bodies if any(t.get("name") == ROUTING_TOOL for t in b.get("tools", []))]
    return routing, [b for b in bodies if b not in routing]


def check_model_calls(
    case: Case, result: CaseResult, bodies: list[dict[str, Any]]
) -> tuple[list[str], int]:
    """What the fake model saw for one case: who called it, and with which documents.

    Returns the problems and how many facts the fake's reply quoted (checked in the answer).
    """
    routing, answering = split(bodies)
    problems: list[str] = []
    if case.kind in (Kind.ESCALATE, Kind.REFUSE) and bodies:
        problems.append(f"{len(bodies)} model calls; expected none")
    if case.kind == Kind.CLARIFY and not routing:
        problems.append("the unsure router did not ask the model")
    if case.kind == Kind.ANSWER:
        if routing and not case.turns:
            problems.append("the model was asked to route a clear request")
        if not answering:
            return [*problems, "no answering call"], 0
        prompt = plain(last_user_text(answering[-1]))
        # Grounding: the model was given every fact the answer needs.
        if missing := [f for f in case.facts if f.lower() not in prompt]:
            problems.append(f"prompt lacks {missing}")
        # Facts the fake quotes from passage [1] must reach the caller unchanged.
        said = grounded_responder({"messages": answering[-1]["messages"]}).content[0]["text"]
        quoted = [f for f in case.facts if f.lower() in said.lower()]
        assert result.reply is not None
        if missing := [f for f in quoted if f.lower() not in result.reply.answer.lower()]:
            problems.append(f"answer lacks {missing}, which the model said")
        if result.reply.mode != "llm" or result.reply.usage.input_tokens < 900:
            problems.append(f"mode {result.reply.mode!r}, {result.reply.usage.input_tokens} in")
        return problems, len(quoted)
    return problems, 0


async def test_claude_path_passes_every_case(llm_stack: Stack, llm: FakeAnthropic) -> None:
    llm.default = declining_router
    async with SupervisorClient(llm_stack.supervisor.address) as client:
        capabilities = await probe_all(client, (c for case in CASES for c in case.requires))
        results, problems, quoted = [], [], 0
        for case in CASES:
            seen = len(llm.requests)
            result = await run_case(client, case, FAKE_LLM, capabilities, strict=STRICT)
            results.append(result)
            if result.outcome == "passed":
                bodies = [r.body for r in llm.requests[seen:] if r.path == "/v1/messages"]
                found, n = check_model_calls(case, result, bodies)
                problems += [f"{case.id}: {p}" for p in found]
                quoted += n
    print(f"\nfacts the fake model quoted, checked in its answers: {quoted}")
    assert_all_ran_and_passed(results, capabilities)
    assert not problems, "\n".join(problems)
