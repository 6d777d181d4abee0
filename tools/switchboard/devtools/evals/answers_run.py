"""Runs the answer set against the real agents: offline, and through the fake Messages API.

Each agent is built by its composition root (``build_agent``) over its whole knowledge
folder, ingested for the run into an in-memory store, with the shipped injection guard; the
questions go to ``AgentRuntime.answer`` exactly as the agent's servicer passes them (routing
is measured elsewhere). Two runs:

- ``offline``: no API key; the extractive backend answers. Every metric means what it says.
- ``fake_llm``: the real anthropic SDK against ``devtools.fake_anthropic``, whose responder
  quotes the start of passage [1] and cites it. Its prose is not an answer, so fact recall
  there only shows what passage [1] begins with; what it measures is the pipeline: that the
  LLM path answers, cites the documents that hold the facts, stays grounded in them, and
  abstains (before any model call) on questions no document answers.
- ``llm``: only with an API key in the settings: Claude answers, scored the same way.

With a key, every mode's answers are also read by an LLM judge of faithfulness
(``answers_judge``), reported apart under ``llm_judge`` and never gated.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from switchboard.agent.answering.extractive import OFFLINE_NOTICE
from switchboard.agent.app import Overrides, build_agent
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.conflicts import find_conflicts
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.settings import AgentSettings
from switchboard.core.context import RequestContext
from switchboard.core.embeddings import Embedder
from switchboard.core.llm import AnthropicLLM, anthropic_llm
from switchboard.core.settings import LLMSettings
from switchboard.core.types import AgentAnswer, AgentRequest
from switchboard.devtools.evals.answers import (
    AnswerCase,
    CaseScore,
    breakdown,
    cited_precise,
    facts_found,
    load_answer_set,
)
from switchboard.devtools.evals.answers_grounding import DocumentIndex
from switchboard.devtools.evals.answers_judge import FaithfulnessJudge, summarise_judged
from switchboard.devtools.fake_anthropic import JSON, FakeAnthropic, Reply, last_user_text
from switchboard.guard import GuardSettings

log = logging.getLogger(__name__)

MODES = ("offline", "fake_llm")
KEYED_MODES = ("llm",)  # run only when the settings hold an API key
JUDGE_MODEL = "claude-sonnet-4-6"
BOILERPLATE = (OFFLINE_NOTICE, "From our help docs", "Offline answer")


def quoting_responder(body: JSON) -> Reply:
    """Plays Claude crudely: the first 200 characters of passage [1], citing it."""
    text = last_user_text(body)
    start = text.find('">\n')
    if start < 0:
        return Reply.text("I could not find that in the documentation.")
    passage = " ".join(text[start + 3 : start + 203].split())
    return Reply.text(f"According to our docs: {passage} [1]", input_tokens=900, output_tokens=60)


def build_store(config: AgentConfig, embedder: Embedder) -> InMemoryStore:
    """The agent's whole knowledge folder, ingested into memory for the run."""
    store = InMemoryStore()
    ingest(config, store, embedder)
    return store


async def _ask_all(
    config: AgentConfig,
    cases: Sequence[AnswerCase],
    embedder: Embedder,
    store: InMemoryStore,
    data_dir: Path,
    llm: AnthropicLLM | None,
    guard_cache: Path,
) -> list[AgentAnswer]:
    settings = AgentSettings(
        data_dir=data_dir,
        llm=LLMSettings(ANTHROPIC_API_KEY=""),
        guard=GuardSettings(cache_dir=guard_cache),
    )
    overrides = Overrides(embedder=embedder, vector_store=store, llm=llm)
    answers = []
    async with build_agent(config, settings, overrides) as app:
        for i, case in enumerate(cases):
            ctx = RequestContext(request_id=f"answers-{case.id}-{i}")
            answers.append(await app.runtime.answer(ctx, AgentRequest(text=case.question)))
    return answers


def score(
    case: AnswerCase, answer: AgentAnswer, index: DocumentIndex, documents: dict[str, str]
) -> CaseScore:
    """``documents`` and ``index`` are keyed ``agent/file``; citations name the agent's files."""
    cited = list(dict.fromkeys(c.source_id for c in answer.citations))
    keys = [f"{case.agent}/{d}" for d in cited]
    s = CaseScore(
        id=case.id,
        agent=case.agent,
        split=case.split.value,
        answerable=case.answerable,
        status=answer.outcome.value,
        confidence=float(answer.confidence),
        citations=cited,
        text=answer.text,
    )
    if s.abstained:
        return s
    s.facts = facts_found(case, answer.text) if case.answerable else []
    s.precise = cited_precise(case, [documents.get(k, "") for k in keys])
    s.grounded = index.groundedness(answer.text, keys, BOILERPLATE)
    return s


def run_mode(
    mode: str,
    configs: dict[str, AgentConfig],
    cases: Sequence[AnswerCase],
    embedder: Embedder,
    stores: dict[str, InMemoryStore],
    workdir: Path,
    guard_cache: Path,
    llm_settings: LLMSettings | None = None,
) -> list[tuple[AnswerCase, AgentAnswer]]:
    async def main() -> list[tuple[AnswerCase, AgentAnswer]]:
        out: list[tuple[AnswerCase, AgentAnswer]] = []
        for name, config in configs.items():
            mine = [c for c in cases if c.agent == name]
            llm = None
            if mode == "fake_llm":
                llm = AnthropicLLM(
                    api_key="sk-fake", base_url=fake.base_url, model="fake", max_retries=0
                )
            elif mode == "llm":
                assert llm_settings is not None  # evaluate_answers runs it only with a key
                llm = anthropic_llm(llm_settings, llm_settings.model or config.llm.model)
            try:
                got = await _ask_all(
                    config, mine, embedder, stores[name], workdir / name, llm, guard_cache
                )
            finally:
                if llm is not None:
                    await llm.close()
            out.extend(zip(mine, got, strict=True))
        return out

    with FakeAnthropic() as fake:
        fake.default = quoting_responder
        return asyncio.run(main())


def evaluate_answers(
    agents_dir: Path,
    cases_path: Path,
    embedder: Embedder,
    *,
    ingest_embedder: Embedder | None = None,
    modes: Sequence[str] = MODES,
    cache_dir: Path = Path("build/eval-cache"),
    llm_settings: LLMSettings | None = None,
    judge_model: str = JUDGE_MODEL,
) -> dict[str, Any]:
    """Both runs over the answer set: figures per mode, split (dev, held_out, all) and agent,
    and each reply (for reading the dev failures; held-out ones are not to be tuned on).
    With an API key in ``llm_settings``, Claude's own run and the judge's reading too."""
    keyed = llm_settings is not None and llm_settings.enabled
    modes = [*modes, *(KEYED_MODES if keyed else ())]
    cases = load_answer_set(cases_path)
    configs = {p.parent.name: AgentConfig.load(p) for p in sorted(agents_dir.glob("*/agent.yaml"))}
    configs = {n: c for n, c in configs.items() if any(k.agent == n for k in cases)}
    documents = {
        f"{n}/{p.name}": p.read_text(encoding="utf-8")
        for n, c in configs.items()
        for p in sorted(c.knowledge_dir.glob("*.md"))
    }
    t0 = time.perf_counter()
    stores = {n: build_store(c, ingest_embedder or embedder) for n, c in configs.items()}
    conflicts = find_conflicts(dict(stores))
    report: dict[str, Any] = {
        "cases_file": str(cases_path),
        "ingest_seconds": round(time.perf_counter() - t0, 1),
        # passages of different agents that state different values (knowledge.conflicts)
        "knowledge_conflicts": [c.as_dict() for c in conflicts],
    }
    index = DocumentIndex(embedder, documents)
    scored: dict[str, list[CaseScore]] = {}
    with tempfile.TemporaryDirectory(prefix="switchboard-answers-") as tmp:
        for mode in modes:
            t1 = time.perf_counter()
            replies = run_mode(
                mode, configs, cases, embedder, stores, Path(tmp) / mode, cache_dir / "guard",
                llm_settings,
            )  # fmt: skip
            scores = [score(case, answer, index, documents) for case, answer in replies]
            scored[mode] = scores
            report[mode] = breakdown(scores)
            report[mode]["seconds"] = round(time.perf_counter() - t1, 1)
            report[mode]["replies"] = [
                {
                    "id": s.id,
                    "split": s.split,
                    "status": s.status,
                    "confidence": round(s.confidence, 3),
                    "right": s.right,
                    "facts": s.facts,
                    "citations": s.citations,
                    "grounded": s.grounded,
                    "text": s.text,
                }
                for s in scores
            ]
    if keyed:
        assert llm_settings is not None
        report["llm_judge"] = judge_modes(scored, documents, llm_settings, judge_model)
    else:
        report["llm_judge"] = {"skipped": "no ANTHROPIC_API_KEY: the LLM judge did not run"}
    return report


def judge_modes(
    scored: dict[str, list[CaseScore]],
    documents: dict[str, str],
    llm_settings: LLMSettings,
    judge_model: str,
) -> dict[str, Any]:
    """The judge's reading of every answered reply of every mode (abstentions say nothing)."""

    async def main() -> dict[str, Any]:
        llm = anthropic_llm(llm_settings, judge_model)
        assert llm is not None
        out: dict[str, Any] = {"model": judge_model}
        try:
            judge = FaithfulnessJudge(llm, boilerplate=BOILERPLATE)
            for mode, scores in scored.items():
                items = [
                    (
                        s.id,
                        s.split,
                        s.text,
                        [(d, documents.get(f"{s.agent}/{d}", "")) for d in s.citations],
                    )
                    for s in scores
                    if not s.abstained
                ]
                out[mode] = summarise_judged(await judge.judge_all(items))
        finally:
            await llm.close()
        return out

    t0 = time.perf_counter()
    result = asyncio.run(main())
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def headline(report: dict[str, Any]) -> list[str]:
    """A few lines for the console: per mode and split, the overall figures."""
    lines = [f"answers: {len(report.get('knowledge_conflicts', []))} knowledge conflict(s)"]
    for mode in (*MODES, *KEYED_MODES):
        if mode not in report:
            continue
        for split in ("dev", "held_out"):
            o = report[mode][split]["overall"]
            lines.append(
                f"answers {mode:8s} {split:8s} fact_recall {o['fact_recall']} "
                f"accuracy {o['answer_accuracy']} citation_precision {o['citation_precision']} "
                f"groundedness {o['groundedness']} abstention {o['abstention_accuracy']} "
                f"ece {o['ece']}"
            )
    judged = report.get("llm_judge", {})
    if "skipped" in judged:
        lines.append(f"answers llm judge: skipped ({judged['skipped']})")
    for mode in (*MODES, *KEYED_MODES):
        for split in ("dev", "held_out"):
            if mode in judged:
                j = judged[mode][split]
                lines.append(
                    f"answers judge ({judged['model']}) {mode:8s} {split:8s} faithfulness "
                    f"{j['faithfulness']} fully_faithful {j['fully_faithful']} "
                    f"judged {j['judged']}/{j['answers']}"
                )
    return lines
