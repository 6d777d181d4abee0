"""An agent's InvokeStream over real gRPC: Claude's deltas (the real SDK against the fake
Messages API's server-sent events) or the offline answer sentence by sentence, citations,
resets when the answer is rewritten, and the final event equal to what Invoke returns."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from switchboard.agent.app import AgentApp
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.core.budget import Budget
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.llm import AnthropicLLM
from switchboard.v1 import agent_pb2, agent_pb2_grpc, common_pb2
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.harness import apps

pytestmark = pytest.mark.integration

QUESTION = "How long do I have to ask for a refund on an annual plan?"
ANSWER = (
    "Annual plans can be refunded within 30 days of the charge [2]. Monthly plans are not "
    "refunded [2][1]. Ask billing for anything else [9]."
)
#: What the final answer reads: markers renumbered by first mention, [9] (no passage) dropped.
FINAL = (
    "Annual plans can be refunded within 30 days of the charge [1]. Monthly plans are not "
    "refunded [1][2]. Ask billing for anything else ."
)


@pytest.fixture(scope="module")
def billing_store(agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder) -> InMemoryStore:
    store = InMemoryStore()
    ingest(agent_configs["billing"], store, embedder)
    return store


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@contextlib.asynccontextmanager
async def billing(
    config: AgentConfig,
    store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp: Path,
    fake: FakeAnthropic | None,
) -> AsyncIterator[tuple[AgentApp, agent_pb2_grpc.AgentStub]]:
    llm = None
    if fake is not None:
        llm = AnthropicLLM(
            api_key="sk-test", base_url=fake.base_url, model="m", max_retries=0, timeout=10
        )
    try:
        async with (
            apps.agent(
                config, tmp, serve=True, embedder=embedder, vector_store=store, llm=llm
            ) as app,
            grpc.aio.insecure_channel(app.address) as channel,
        ):
            yield app, agent_pb2_grpc.AgentStub(channel)
    finally:
        if llm is not None:
            await llm.close()


def shown(events: list[agent_pb2.InvokeEvent]) -> str:
    """The text a consumer shows: the text events since the last reset."""
    text = ""
    for e in events:
        if e.HasField("reset"):
            text = ""
        elif e.HasField("text"):
            text += e.text.text
    return text


async def collect(
    stub: agent_pb2_grpc.AgentStub, text: str = QUESTION, **kwargs: object
) -> list[agent_pb2.InvokeEvent]:
    call = stub.InvokeStream(agent_pb2.InvokeRequest(request_id="s1", text=text), **kwargs)
    return [e async for e in call]


async def test_llm_deltas_stream_in_order_and_make_the_final_answer(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
    fake: FakeAnthropic,
) -> None:
    fake.default = Reply.text(ANSWER)
    async with billing(agent_configs["billing"], billing_store, embedder, tmp_path, fake) as (
        _,
        stub,
    ):
        events = await collect(stub)
        invoked = await stub.Invoke(agent_pb2.InvokeRequest(request_id="u1", text=QUESTION))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    final = events[-1].final
    assert events[-1].HasField("final") and final.answer == FINAL
    texts = [e.text.text for e in events if e.HasField("text")]
    assert len(texts) > 10 and "".join(texts) == FINAL  # word by word, no reset needed
    assert not any(e.HasField("reset") for e in events)
    cited = {e.citation.index: e.citation.citation for e in events if e.HasField("citation")}
    assert cited == dict(enumerate(final.citations, start=1)) and len(cited) == 2
    # a citation is sent before the text that first refers to it
    first_marker = next(i for i, e in enumerate(events) if "[1]" in e.text.text)
    assert events[first_marker - 1].HasField("citation")
    assert any(e.HasField("usage") for e in events)
    assert final.status == common_pb2.ANSWERED and final.mode == "llm"
    assert final == invoked  # the final event is what Invoke returns


async def test_offline_answer_streams_sentence_by_sentence(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    async with billing(agent_configs["billing"], billing_store, embedder, tmp_path, None) as (
        _,
        stub,
    ):
        events = await collect(stub)
        invoked = await stub.Invoke(agent_pb2.InvokeRequest(request_id="u1", text=QUESTION))
    final = events[-1].final
    assert final.status == common_pb2.DEGRADED and final == invoked
    texts = [e.text.text for e in events if e.HasField("text")]
    assert len(texts) >= 2 and "".join(texts) == final.answer
    assert all(t.rstrip()[-1] in ".!?:)" or t is texts[-1] for t in texts)
    cited = [e.citation.citation for e in events if e.HasField("citation")]
    assert cited == list(final.citations)


async def test_provider_failure_mid_stream_resets_then_answers_offline(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
    fake: FakeAnthropic,
) -> None:
    fake.script(Reply.text(ANSWER).streaming(fail_after_tokens=5))
    async with billing(agent_configs["billing"], billing_store, embedder, tmp_path, fake) as (
        _,
        stub,
    ):
        events = await collect(stub)
    kinds = [e.WhichOneof("event") for e in events]
    first_reset = kinds.index("reset")
    before = "".join(e.text.text for e in events[:first_reset] if e.HasField("text"))
    assert before and FINAL.startswith(before)  # Claude's words were shown, then taken back
    assert events[first_reset].reset.reason == "llm_failed"
    final = events[-1].final
    assert final.status == common_pb2.DEGRADED and final.mode == "offline-extractive"
    assert shown(events) == final.answer and kinds.count("reset") == 1


async def test_a_tool_turns_text_is_taken_back(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
    fake: FakeAnthropic,
) -> None:
    fake.script(
        Reply.tool_use("get_service_status", {}, text_before="Let me check the status first."),
        Reply.text(ANSWER),
    )
    async with billing(agent_configs["billing"], billing_store, embedder, tmp_path, fake) as (
        _,
        stub,
    ):
        events = await collect(stub)
    resets = [e.reset.reason for e in events if e.HasField("reset")]
    final = events[-1].final
    if final.mode == "llm":  # the agent has the tool: the first turn's text is taken back
        assert resets == ["tool_use"] and final.answer == FINAL
    assert shown(events) == final.answer


async def test_budget_spent_mid_stream_ends_resource_exhausted(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
    fake: FakeAnthropic,
) -> None:
    # The fake ignores max_tokens: the agent counts the tokens as they arrive.
    fake.default = Reply.text(" ".join(["refund"] * 3000))
    async with billing(agent_configs["billing"], billing_store, embedder, tmp_path, fake) as (
        _,
        stub,
    ):
        call = stub.InvokeStream(
            agent_pb2.InvokeRequest(request_id="b1", text=QUESTION),
            metadata=Budget(tokens=3000).to_metadata(),
        )
        events = []
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for e in call:
                events.append(e)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "budget" in (raised.value.details() or "")
    assert any(e.HasField("text") for e in events) and not any(e.HasField("final") for e in events)


async def test_cancelling_the_call_stops_the_llm_stream_within_100ms(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
    fake: FakeAnthropic,
) -> None:
    fake.default = Reply.text(" ".join(["word"] * 400)).streaming(token_delay_s=0.01)
    async with billing(agent_configs["billing"], billing_store, embedder, tmp_path, fake) as (
        _,
        stub,
    ):
        call = stub.InvokeStream(agent_pb2.InvokeRequest(request_id="c1", text=QUESTION))
        async for e in call:
            if e.HasField("text"):
                break
        cancelled = time.monotonic()
        call.cancel()
        for _ in range(100):
            if fake.streams[0].client_gone is not None:
                break
            await asyncio.sleep(0.005)
    gone = fake.streams[0].client_gone
    assert gone is not None and gone - cancelled < 0.1, "the provider stream was left running"
    assert fake.streams[0].tokens < 400
