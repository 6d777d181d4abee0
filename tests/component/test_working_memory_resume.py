"""Working memory of the tool loop: a confirmation resumes the model where it stopped, on
another replica after a restart (two builds of the agent from the same settings and the same
SQLite file), with the real anthropic SDK against the fake Messages API."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pydantic import SecretStr

from switchboard.agent import app as agent_app
from switchboard.agent.app import AgentApp
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.memory.working import WorkingMemory
from switchboard.agent.settings import AgentSettings, WorkingMemorySettings
from switchboard.agent.tools import DemoBackend
from switchboard.agent.tools.actions import ActionSigner
from switchboard.core.context import Deadline
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.llm import AnthropicLLM
from switchboard.core.types import AgentAnswer, AgentRequest, AnswerMode, Outcome
from switchboard.devtools.fake_anthropic import MESSAGES_PATH
from switchboard.store import StoreError
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.harness import apps
from tests.harness.apps import agent_context
from tests.harness.stack import small_store
from tests.harness.store import open_data_dir_store

SECRET = "working-memory-test-action-secret-0123456789"
TENANT, CUSTOMER = "acme", "cus_demo_acme"
REFUND = {"invoice_id": "BL-2025-004218", "reason": "charged twice for the renewal"}
QUESTION = "I was charged twice for our renewal: please refund invoice BL-2025-004218"
DOCS = ("refund-policy.md", "invoices-and-receipts.md")
FINAL = "Your refund for invoice BL-2025-004218 is requested; it reaches your card in days [1]."


@pytest.fixture
def billing(agent_configs: dict[str, AgentConfig]) -> AgentConfig:
    return agent_configs["billing"]


@pytest.fixture
def knowledge(billing: AgentConfig, embedder: MiniLMEmbedder, tmp_path: Path) -> InMemoryStore:
    return small_store(billing, embedder, tmp_path / "kb", DOCS)


@pytest.fixture
def fake() -> Any:
    with FakeAnthropic() as server:
        yield server


def settings_of(data_dir: Path, **values: Any) -> AgentSettings:
    """One settings object for every replica: the same data dir (SQLite file) and key."""
    return apps.agent_settings(data_dir, action_secret=SecretStr(SECRET), **values)


@contextlib.asynccontextmanager
async def replica(
    config: AgentConfig,
    settings: AgentSettings,
    fake: FakeAnthropic,
    embedder: MiniLMEmbedder,
    knowledge: InMemoryStore,
    meter: MeterProvider | None = None,
) -> AsyncIterator[tuple[AgentApp, DemoBackend]]:
    """One agent process: built by its composition root, its own store engine on the
    settings' database, its own LLM client and tool backend."""
    backend = DemoBackend.load()
    llm = AnthropicLLM(
        api_key="sk-test", base_url=fake.base_url, model="claude-sonnet-4-6", max_retries=0
    )
    with contextlib.ExitStack() as patches:
        if meter is not None:
            patches.enter_context(
                mock.patch.object(
                    agent_app, "WorkingMemory", partial(WorkingMemory, meter=meter.get_meter("t"))
                )
            )
        try:
            async with apps.agent(
                config,
                settings.data_dir,
                settings=settings,
                embedder=embedder,
                llm=llm,
                vector_store=knowledge,
                tool_backend=backend,
            ) as app:
                yield app, backend
        finally:
            await llm.close()


async def ask(app: AgentApp, request_id: str, text: str, confirm: str = "") -> AgentAnswer:
    ctx = agent_context(
        request_id=request_id,
        tenant=TENANT,
        customer_id=CUSTOMER,
        session_id="s-1",
        user_id="u-1",
        deadline=Deadline.after(30),
    )
    return await app.runtime.answer(ctx, AgentRequest(text=text, confirm_action=confirm))


def script_read_then_refund(fake: FakeAnthropic) -> None:
    fake.script(
        Reply.tool_use("list_invoices", {}, tool_id="toolu_list"),
        Reply.tool_use(
            "request_refund", REFUND, tool_id="toolu_refund", text_before="I'll request it."
        ),
    )


def calls(fake: FakeAnthropic) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path == MESSAGES_PATH]


def tool_results(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert message["role"] == "user" and isinstance(message["content"], list)
    return {b["tool_use_id"]: b for b in message["content"] if b["type"] == "tool_result"}


async def test_a_confirmation_on_another_replica_after_a_restart_resumes_the_model(
    billing: AgentConfig,
    fake: FakeAnthropic,
    embedder: MiniLMEmbedder,
    knowledge: InMemoryStore,
    tmp_path: Path,
) -> None:
    settings = settings_of(tmp_path / "data")
    script_read_then_refund(fake)
    async with replica(billing, settings, fake, embedder, knowledge) as (first, first_backend):
        proposed = await ask(first, "r1", QUESTION)
        assert proposed.outcome == Outcome.NEEDS_CONFIRMATION, proposed.text
        pending = proposed.pending_action
        assert pending is not None and pending.tool == "request_refund"
    # The first replica is gone (stopped, its store closed): nothing of the loop is in any
    # process now. A second one starts from the same settings and the same database file.
    before = calls(fake)
    assert len(before) == 2 and first_backend.effects == []
    fake.script(Reply.text(FINAL))
    async with replica(billing, settings, fake, embedder, knowledge) as (second, backend):
        answer = await ask(second, "r2", "yes, go ahead", confirm=pending.id)
        assert answer.outcome == Outcome.ANSWERED and answer.mode == AnswerMode.LLM
        assert answer.text == FINAL  # the model's continuation is the answer
        assert answer.citations and answer.citations[0].source_id.endswith("refund-policy.md")
        assert answer.usage.input_tokens > 0  # the continuation's model call, billed here
        assert answer.pending_action is None
        assert len(backend.effects) == 1  # the refund ran, once
        # The same confirmation again: the stored result, no second refund, no model call.
        again = await ask(second, "r3", "yes, go ahead", confirm=pending.id)
        assert again.text.startswith("Done: refund request RR-")
        assert len(backend.effects) == 1
        assert await second.store.working_memory.get(TENANT, "r1") is None  # done: deleted
    resumed = calls(fake)[2]
    assert len(calls(fake)) == 3
    # The resumed call carries the whole earlier history, as the model saw it ...
    assert resumed["system"] == before[1]["system"]
    assert [t["name"] for t in resumed["tools"]] == [t["name"] for t in before[1]["tools"]]
    assert resumed["messages"][:3] == before[1]["messages"]
    assert resumed["messages"][3] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "I'll request it."},
            {"type": "tool_use", "id": "toolu_refund", "name": "request_refund", "input": REFUND},
        ],
    }
    # ... then the confirmed refund's result as the result of its tool_use.
    refund = tool_results(resumed["messages"][4])["toolu_refund"]
    assert not refund["is_error"]
    assert json.loads(refund["content"])["id"].startswith("RR-")
    assert len(resumed["messages"]) == 5
    # One effect in the shared database, keyed by the action (exactly once across replicas).
    action_id = ActionSigner(SECRET).verify(pending.id, agent="billing").action_id
    db = await open_data_dir_store(settings.data_dir)
    try:
        assert await db.effects.count(f"action:{action_id}", tenant=TENANT) == 1
    finally:
        await db.close()


async def test_the_resumed_call_carries_the_earlier_tool_result(
    billing: AgentConfig,
    fake: FakeAnthropic,
    embedder: MiniLMEmbedder,
    knowledge: InMemoryStore,
    tmp_path: Path,
) -> None:
    script_read_then_refund(fake)
    settings = settings_of(tmp_path / "data")
    async with replica(billing, settings, fake, embedder, knowledge) as (app, backend):
        pending = (await ask(app, "r1", QUESTION)).pending_action
        assert pending is not None
        listed = tool_results(calls(fake)[1]["messages"][2])["toolu_list"]["content"]
        assert "BL-2025-004218" in listed  # what list_invoices gave the model
        fake.script(Reply.text(FINAL))
        await ask(app, "r2", "yes", confirm=pending.id)
        assert len(backend.effects) == 1
    assert len(calls(fake)) == 3  # the confirmation called the model once more
    resumed = calls(fake)[2]["messages"]
    results = [tool_results(m) for m in resumed[1:] if m["role"] == "user"]
    assert [list(r) for r in results] == [["toolu_list"], ["toolu_refund"]]
    assert results[0]["toolu_list"]["content"] == listed  # the earlier result, unchanged


async def test_without_working_memory_the_confirmation_answers_with_the_result_alone(
    billing: AgentConfig,
    fake: FakeAnthropic,
    embedder: MiniLMEmbedder,
    knowledge: InMemoryStore,
    tmp_path: Path,
) -> None:
    """The control of the two tests above: nothing saved, nothing resumed (today's answer)."""
    script_read_then_refund(fake)
    settings = settings_of(tmp_path / "data", working_memory=WorkingMemorySettings(enabled=False))
    async with replica(billing, settings, fake, embedder, knowledge) as (app, backend):
        pending = (await ask(app, "r1", QUESTION)).pending_action
        assert pending is not None
        answer = await ask(app, "r2", "yes", confirm=pending.id)
        assert answer.text.startswith("Done: refund request RR-")
        assert answer.mode == AnswerMode.NONE and len(backend.effects) == 1
        assert await app.store.working_memory.get(TENANT, "r1") is None
    assert len(calls(fake)) == 2  # no model call for the confirmation


async def test_a_failing_store_never_blocks_the_answer_and_is_counted(
    billing: AgentConfig,
    fake: FakeAnthropic,
    embedder: MiniLMEmbedder,
    knowledge: InMemoryStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader])
    script_read_then_refund(fake)
    settings = settings_of(tmp_path / "data")
    async with replica(billing, settings, fake, embedder, knowledge, meter) as (app, backend):

        async def broken(*args: Any, **kwargs: Any) -> None:
            raise StoreError("saving working memory failed: database is locked")

        monkeypatch.setattr(app.store.working_memory, "save", broken)
        proposed = await ask(app, "r1", QUESTION)
        # Both steps failed to save (after list_invoices, and at the proposal): the answer
        # went out all the same.
        assert proposed.outcome == Outcome.NEEDS_CONFIRMATION and proposed.pending_action
        assert app.runtime.working_memory is not None
        assert app.runtime.working_memory.failures == 2
        monkeypatch.undo()
        # Nothing to resume: the action runs, and its result is the answer (no model call).
        answer = await ask(app, "r2", "yes", confirm=proposed.pending_action.id)
        assert answer.text.startswith("Done: refund request RR-")
        assert len(backend.effects) == 1
    assert len(calls(fake)) == 2
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        (dict(p.attributes or {}), p.value)  # type: ignore[union-attr]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "switchboard.working_memory.failures"
        for p in m.data.data_points
    ]
    assert points == [({"operation": "save", "error.type": "StoreError"}, 2)]


async def test_a_model_failure_on_resume_still_answers_with_the_action_result(
    billing: AgentConfig,
    fake: FakeAnthropic,
    embedder: MiniLMEmbedder,
    knowledge: InMemoryStore,
    tmp_path: Path,
) -> None:
    script_read_then_refund(fake)
    settings = settings_of(tmp_path / "data")
    async with replica(billing, settings, fake, embedder, knowledge) as (app, backend):
        pending = (await ask(app, "r1", QUESTION)).pending_action
        assert pending is not None
        fake.script(Reply.error(529))
        answer = await ask(app, "r2", "yes", confirm=pending.id)
        assert answer.outcome == Outcome.ANSWERED
        assert answer.text.startswith("Done: refund request RR-")  # the action ran
        assert len(backend.effects) == 1
        # Still awaiting: a retry of the confirmation (the refund replayed) resumes.
        fake.script(Reply.text(FINAL))
        retried = await ask(app, "r3", "yes", confirm=pending.id)
        assert retried.text == FINAL and len(backend.effects) == 1
    assert len(calls(fake)) == 4
