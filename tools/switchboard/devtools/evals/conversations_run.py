"""Replays labelled conversations through the supervisor and the three agents in process.

Both services are built by their composition roots (``build_supervisor``, ``build_agent``):
the agents' knowledge bases ingested into in-memory vector stores, one migrated SQLite store,
the agents reached through :class:`InProcessAgentClient`. Offline, the agents answer
extractively; with ``fake_llm`` they call the fake Messages API through the real SDK, whose
responder (:func:`grounded_responder`) stands in for a model: it answers with the sentence of
the prompt's documents that shares the most words with the question and, when the prompt
has a conversation block, a quarter as much with the customer's previous turn (ties),
citing its ``[n]``.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from switchboard.agent.app import AgentApp, build_agent
from switchboard.agent.app import Overrides as AgentOverrides
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.settings import AgentSettings
from switchboard.core.embeddings import Embedder
from switchboard.core.llm import AnthropicLLM
from switchboard.core.settings import LLMSettings, MemorySettings
from switchboard.devtools.evals.conversations import LabelledConversation, TurnOutcome
from switchboard.devtools.fake_anthropic import JSON, FakeAnthropic, Reply, text_of
from switchboard.devtools.inprocess import InProcessAgentClient
from switchboard.guard import GuardSettings
from switchboard.store import Store, StoreSettings
from switchboard.supervisor.app import Overrides as SupervisorOverrides
from switchboard.supervisor.app import SupervisorApp, build_supervisor
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.results import AskInput
from switchboard.supervisor.settings import SupervisorSettings

OFF = GuardSettings(enabled=False)
NO_KEY = LLMSettings(anthropic_api_key=None)
MEMORY_TIMEOUT_S = 3.0
_DOC = re.compile(r'<document index="(\d+)"[^>]*>\n(.*?)\n</document>', re.DOTALL)
_QUESTION = re.compile(r"<question>\n(.*?)\n</question>", re.DOTALL)
_CUSTOMER = re.compile(r"<customer>(.*?)</customer>", re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
#: The stand-in model answers the question asked; the earlier turn's words only break ties
#: (0.5 in the first full run made it answer the earlier question instead: docs/memory.md).
CONTEXT_WEIGHT = 0.25
_SKIP_TEXT = "a an and are can do does for how i if is it my of on or the to we what"
_SKIP = frozenset(_SKIP_TEXT.split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _SKIP and len(w) > 2}


def grounded_responder(body: JSON) -> Reply:
    """A stand-in model that answers from the prompt only (see the module docstring)."""
    prompt = text_of((body.get("messages") or [{}])[-1].get("content"))
    question = _QUESTION.search(prompt)
    asked = _words(question.group(1) if question else prompt)
    customers = _CUSTOMER.findall(prompt)
    context = _words(customers[-1]) if customers else set()
    best: tuple[float, str, str] = (-1.0, "", "")
    for index, text in _DOC.findall(prompt):
        for sentence in _SENTENCE.split(text):
            words = _words(sentence)
            score = len(words & asked) + CONTEXT_WEIGHT * len(words & context)
            if len(sentence) > 20 and score > best[0]:
                best = (score, sentence.strip(), index)
    if not best[1]:
        return Reply.text("I could not find that in the documents.")
    return Reply.text(f"{best[1]} [{best[2]}]")


def knowledge_stores(
    configs: Sequence[AgentConfig], embedder: Embedder
) -> dict[str, InMemoryStore]:
    """Each agent's whole knowledge base in an in-memory store (slow: call before the loop)."""
    stores = {}
    for config in configs:
        store = InMemoryStore()
        ingest(config, store, embedder)
        stores[config.name] = store
    return stores


@contextlib.asynccontextmanager
async def conversations_stack(
    configs: Sequence[AgentConfig],
    stores: dict[str, InMemoryStore],
    embedder: Embedder,
    *,
    memory: bool,
    fake: FakeAnthropic | None = None,
    folder: Path | None = None,
) -> AsyncIterator[SupervisorApp]:
    """The supervisor over the agents, in this process, memory on or off."""
    async with contextlib.AsyncExitStack() as stack:
        work = folder or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        settings = StoreSettings(database_url=None)
        db = await Store.open(settings, url=settings.url(work))
        stack.push_async_callback(db.close)
        agents: dict[str, AgentApp] = {}
        for config in configs:
            llm = None
            if fake is not None:
                llm = AnthropicLLM(
                    api_key="sk-fake", base_url=fake.base_url, model="m", max_retries=0, timeout=30
                )
                stack.push_async_callback(llm.close)
            agents[config.name] = await stack.enter_async_context(
                build_agent(
                    config,
                    AgentSettings(data_dir=work, guard=OFF, llm=NO_KEY),
                    AgentOverrides(
                        embedder=embedder, llm=llm, vector_store=stores[config.name], store=db
                    ),
                )
            )
        cards = {c.name: c.card() for c in configs}
        entries = [
            AgentEntry(name=n, address=f"in-process:{n}", **c.model_dump(exclude={"name"}))
            for n, c in cards.items()
        ]
        # A quality eval, not a latency one: a store read past the shipped 0.3 s budget on a
        # loaded machine would answer without memory and read as a recall loss.
        sup_settings = SupervisorSettings(
            data_dir=work,
            guard=OFF,
            llm=NO_KEY,
            memory=MemorySettings(enabled=memory, timeout_s=MEMORY_TIMEOUT_S),
        )
        app = await stack.enter_async_context(
            build_supervisor(
                sup_settings,
                entries,
                SupervisorOverrides(
                    embedder=embedder, agent_client=InProcessAgentClient(agents, cards), store=db
                ),
            )
        )
        yield app


async def replay(
    app: SupervisorApp, conversations: Sequence[LabelledConversation], *, tag: str
) -> list[TurnOutcome]:
    """Every turn of every conversation, in order, in a session of its own."""
    out: list[TurnOutcome] = []
    for conv in conversations:
        for i, turn in enumerate(conv.turns):
            ctx = app.service.context(principal=None, session_id=f"{tag}-{conv.id}")
            result = await app.service.ask(ctx, AskInput(text=turn.text))
            out.append(
                TurnOutcome(
                    conversation=conv.id,
                    held_out=conv.held_out,
                    index=i,
                    agent=result.agent,
                    sources=[c.source_id for c in result.citations],
                    answer=result.answer,
                    label=turn,
                )
            )
    return out


def load_configs(agents_dir: Path) -> list[AgentConfig]:
    return [AgentConfig.load(p) for p in sorted(agents_dir.glob("*/agent.yaml"))]


async def run_modes(
    configs: Sequence[AgentConfig],
    stores: dict[str, InMemoryStore],
    conversations: Sequence[LabelledConversation],
    embedder: Embedder,
    *,
    fake_llm: bool = True,
) -> dict[str, Any]:
    """``{offline|fake_llm: {before|after: summary}}`` (and the turns, for inspection)."""
    from switchboard.devtools.evals.conversations import summarise

    report: dict[str, Any] = {}
    modes = [("offline", False)] + ([("fake_llm", True)] if fake_llm else [])
    for mode, with_llm in modes:
        report[mode] = {}
        with contextlib.ExitStack() as outer:
            fake = None
            if with_llm:
                fake = outer.enter_context(FakeAnthropic(require_api_key=False))
                fake.default = grounded_responder
            for phase, memory in (("before", False), ("after", True)):
                async with conversations_stack(
                    configs, stores, embedder, memory=memory, fake=fake
                ) as app:
                    turns = await replay(app, conversations, tag=f"{mode}-{phase}")
                report[mode][phase] = summarise(turns)
    return report
