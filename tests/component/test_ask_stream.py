"""AskStream end to end over real gRPC: supervisor and agents in this process (auth on), the
agents' Claude the real SDK against the fake Messages API's server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from switchboard.agent.config import AgentConfig
from switchboard.agent.tools import DemoBackend
from switchboard.core.budget import Budget
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.llm import AnthropicLLM
from switchboard.core.settings import StreamingSettings
from switchboard.core.types import AgentCard
from switchboard.store import Store
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import common_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.fakes.fake_anthropic import JSON, FakeAnthropic, Reply, last_user_text
from tests.harness.apps import strict_grounding
from tests.harness.stack import Credentials, cached_guard, served_agent, served_supervisor
from tests.harness.stack import small_store as build_small_store
from tests.harness.store import open_sqlite_store

pytestmark = pytest.mark.integration

DOCS = {
    "billing": ("refund-policy.md", "invoices-and-receipts.md", "taxes-vat-and-sales-tax.md"),
    "support": ("desktop-and-mobile-apps.md", "slack-integration.md"),
}
QUESTION = "How long do I have to ask for a refund on an annual plan?"
ANSWER = "Annual plans can be refunded within 30 days of the charge [1]. Ask us for more [2]."
COMPOUND = (
    "How do I add our VAT number to invoices? Also, the desktop app keeps crashing on startup."
)


@dataclass
class Stack:
    address: str
    creds: Credentials
    fake: FakeAnthropic
    db: Store

    @contextlib.asynccontextmanager
    async def stub(self) -> AsyncIterator[supervisor_pb2_grpc.SupervisorStub]:
        async with grpc.aio.insecure_channel(self.address) as channel:
            yield supervisor_pb2_grpc.SupervisorStub(channel)

    @property
    def auth(self) -> list[tuple[str, str]]:
        return [self.creds.bearer]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        server.default = Reply.text(ANSWER)
        yield server


@contextlib.asynccontextmanager
async def stack_of(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    configs: dict[str, AgentConfig],
    cards: list[AgentCard],
    index: EmbeddingIndex,
    fake: FakeAnthropic,
    **settings: object,
) -> AsyncIterator[Stack]:
    creds = Credentials()
    settings.setdefault("review_sample_rate", 0.0)
    async with contextlib.AsyncExitStack() as exits:
        db = await open_sqlite_store(tmp_path)
        exits.push_async_callback(db.close)
        guard = cached_guard(embedder)
        addresses = {}
        for name, docs in DOCS.items():
            llm = AnthropicLLM(
                api_key="sk-test", base_url=fake.base_url, model="m", max_retries=0, timeout=10
            )
            exits.push_async_callback(llm.close)
            agent = await exits.enter_async_context(
                served_agent(
                    configs[name],
                    await asyncio.to_thread(
                        build_small_store, configs[name], embedder, tmp_path, docs
                    ),
                    workdir=tmp_path / name,
                    embedder=embedder,
                    guard=guard,
                    backend=DemoBackend.load(),
                    db=db,
                    creds=creds,
                    llm=llm,
                )
            )
            addresses[name] = agent.address
        supervisor = await exits.enter_async_context(
            served_supervisor(
                [c for c in cards if c.name in DOCS],
                addresses,
                workdir=tmp_path / "supervisor",
                embedder=embedder,
                index=index,
                guard=guard,
                db=db,
                creds=creds,
                **settings,
            )
        )
        yield Stack(supervisor.address, creds, fake, db)


StackFactory = Callable[..., contextlib.AbstractAsyncContextManager[Stack]]


@pytest.fixture
def make_stack(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
    fake: FakeAnthropic,
) -> StackFactory:
    """The stack, with other agent configs (``configs``) or supervisor settings if given."""

    def build(
        configs: dict[str, AgentConfig] | None = None, **settings: object
    ) -> contextlib.AbstractAsyncContextManager[Stack]:
        return stack_of(
            tmp_path, embedder, configs or agent_configs, agent_cards, card_index, fake, **settings
        )

    return build


@pytest.fixture
async def stack(make_stack: StackFactory) -> AsyncIterator[Stack]:
    async with make_stack() as s:
        yield s


def shown(events: list[supervisor_pb2.AskEvent], part: int = 0) -> str:
    text = ""
    for e in events:
        if e.HasField("reset") and e.reset.part == part:
            text = ""
        elif e.HasField("text") and e.text.part == part:
            text += e.text.text
    return text


def comparable(response: supervisor_pb2.AskResponse) -> supervisor_pb2.AskResponse:
    """The response without what differs between two requests (their ids)."""
    copy = supervisor_pb2.AskResponse()
    copy.CopyFrom(response)
    copy.request_id, copy.trace_id = "", ""
    return copy


async def stream(
    stack: Stack, request: supervisor_pb2.AskRequest, **kwargs: object
) -> list[supervisor_pb2.AskEvent]:
    async with stack.stub() as stub:
        call = stub.AskStream(request, metadata=stack.auth, timeout=30, **kwargs)
        return [e async for e in call]


async def test_streamed_answer_arrives_in_order_and_final_equals_ask(stack: Stack) -> None:
    events = await stream(stack, supervisor_pb2.AskRequest(text=QUESTION, request_id="st-1"))
    async with stack.stub() as stub:
        asked = await stub.Ask(
            supervisor_pb2.AskRequest(text=QUESTION, request_id="ask-1"),
            metadata=stack.auth,
            timeout=30,
        )
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "route" and kinds[1] == "agent_started" and kinds[-1] == "final"
    assert events[0].route.agent == "billing" and events[1].agent_started.agent == "billing"
    final = events[-1].final
    assert final.status == common_pb2.ANSWERED and final.mode == "llm"
    texts = [e.text for e in events if e.HasField("text")]
    assert len(texts) > 5 and all(t.agent == "billing" and t.part == 0 for t in texts)
    assert "".join(t.text for t in texts) == final.answer  # no reset: deltas are the answer
    assert "usage" in kinds and "citation" in kinds
    last_usage = [e.usage.usage for e in events if e.HasField("usage")][-1]
    assert last_usage.input_tokens == final.usage.input_tokens > 0
    assert final.request_id == "st-1"
    assert comparable(final) == comparable(asked)


async def test_compound_parts_stream_labelled_then_the_merge(stack: Stack) -> None:
    events = await stream(stack, supervisor_pb2.AskRequest(text=COMPOUND))
    final = events[-1].final
    assert events[0].route.method == "compound", events[0].route
    started = {
        e.agent_started.part: e.agent_started.agent for e in events if e.HasField("agent_started")
    }
    assert started == {1: "billing", 2: "support"}
    for number, part in enumerate(final.parts, start=1):
        assert shown(events, number) == part.answer
        assert all(
            e.text.agent == part.agent
            for e in events
            if e.HasField("text") and e.text.part == number
        )
    merged_at = min(i for i, e in enumerate(events) if e.HasField("text") and e.text.part == 0)
    assert all(
        not (e.HasField("text") and e.text.part) for e in events[merged_at:]
    )  # the merge follows the parts
    assert shown(events) == final.answer


async def test_provider_failure_mid_stream_falls_back_without_duplicated_text(
    stack: Stack,
) -> None:
    stack.fake.script(Reply.text(ANSWER).streaming(fail_after_tokens=4))
    events = await stream(stack, supervisor_pb2.AskRequest(text=QUESTION, agent="billing"))
    final = events[-1].final
    assert final.status == common_pb2.DEGRADED and final.mode == "offline-extractive"
    resets = [e.reset for e in events if e.HasField("reset")]
    assert [r.reason for r in resets] == ["llm_failed"]
    assert shown(events) == final.answer  # what a caller shows: the offline answer, once
    async with stack.stub() as stub:  # Ask falls back the same way when the provider fails
        stack.fake.script(Reply.error(529, message="Overloaded"))
        asked = await stub.Ask(
            supervisor_pb2.AskRequest(text=QUESTION, agent="billing"), metadata=stack.auth
        )
    assert comparable(final) == comparable(asked)


async def test_cancelling_stops_the_agents_llm_stream_within_100ms(stack: Stack) -> None:
    stack.fake.default = Reply.text(" ".join(["word"] * 400)).streaming(token_delay_s=0.01)
    async with stack.stub() as stub:
        call = stub.AskStream(
            supervisor_pb2.AskRequest(text=QUESTION, agent="billing"), metadata=stack.auth
        )
        async for e in call:
            if e.HasField("text"):
                break
        cancelled = time.monotonic()
        call.cancel()
        for _ in range(100):
            if stack.fake.streams[-1].client_gone is not None:
                break
            await asyncio.sleep(0.005)
    gone = stack.fake.streams[-1].client_gone
    assert gone is not None and gone - cancelled < 0.1, "the agent's LLM stream kept running"


async def test_a_passed_deadline_stops_the_agents_llm_stream_within_100ms(stack: Stack) -> None:
    stack.fake.default = Reply.text(" ".join(["word"] * 600)).streaming(token_delay_s=0.01)
    async with stack.stub() as stub:
        started = time.monotonic()
        call = stub.AskStream(
            supervisor_pb2.AskRequest(text=QUESTION, agent="billing"),
            metadata=stack.auth,
            timeout=2.0,
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            _ = [e async for e in call]
        for _ in range(100):
            if stack.fake.streams[-1].client_gone is not None:
                break
            await asyncio.sleep(0.005)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    gone = stack.fake.streams[-1].client_gone
    assert gone is not None and gone - (started + 2.0) < 0.1, "the LLM stream outlived the deadline"


async def test_budget_spent_mid_stream_ends_resource_exhausted_after_a_partial(
    stack: Stack,
) -> None:
    stack.fake.default = Reply.text(" ".join(["refund"] * 3000))
    async with stack.stub() as stub:
        call = stub.AskStream(
            supervisor_pb2.AskRequest(text=QUESTION, agent="billing"),
            metadata=[*stack.auth, *Budget(tokens=3000).to_metadata()],
        )
        events = []
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for e in call:
                events.append(e)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert events[-1].HasField("partial")
    partial = events[-1].partial
    assert "budget" in partial.reason and partial.answer == shown(events[:-1])
    assert partial.answer.startswith("refund")


async def test_errors_end_the_stream_with_asks_statuses(stack: Stack) -> None:
    async with stack.stub() as stub:
        for request, code in (
            (supervisor_pb2.AskRequest(text="   "), grpc.StatusCode.INVALID_ARGUMENT),
            (supervisor_pb2.AskRequest(text=QUESTION, agent="nope"), grpc.StatusCode.NOT_FOUND),
        ):
            for method in (stub.Ask, stub.AskStream):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    reply = method(request, metadata=stack.auth)
                    if method is stub.AskStream:
                        _ = [e async for e in reply]  # type: ignore[union-attr]
                    else:
                        await reply  # type: ignore[misc]
                assert raised.value.code() == code
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            _ = [e async for e in stub.AskStream(supervisor_pb2.AskRequest(text=QUESTION))]
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_finished_request_id_replays_its_final_event(stack: Stack) -> None:
    request = supervisor_pb2.AskRequest(text=QUESTION, request_id="again-1")
    first = await stream(stack, request)
    calls = len(stack.fake.requests)
    second = await stream(stack, request)
    assert len(stack.fake.requests) == calls  # nothing ran again
    assert second[-1].final == first[-1].final
    assert shown(second) == second[-1].final.answer


async def test_a_running_request_id_attaches_to_its_stream(stack: Stack) -> None:
    stack.fake.default = Reply.text(ANSWER).streaming(token_delay_s=0.03)
    request = supervisor_pb2.AskRequest(text=QUESTION, request_id="attach-1")
    async with stack.stub() as stub:
        first = stub.AskStream(request, metadata=stack.auth, timeout=30)
        async for e in first:
            if e.HasField("text"):
                break
        second = await stream(stack, request)
        rest = [e async for e in first]
    assert second[-1].final == rest[-1].final
    assert sum(1 for r in stack.fake.requests if r.path == "/v1/messages") == 1
    assert [e.sequence for e in second] == list(range(1, len(second) + 1))


async def test_a_dropped_stream_resumes_after_its_last_sequence(
    make_stack: StackFactory, fake: FakeAnthropic
) -> None:
    fake.default = Reply.text(ANSWER).streaming(token_delay_s=0.03)
    async with make_stack(streaming=StreamingSettings(detach_grace_s=5.0)) as s:
        request = supervisor_pb2.AskRequest(text=QUESTION, request_id="resume-1")
        async with s.stub() as stub:
            call = stub.AskStream(request, metadata=s.auth, timeout=30)
            seen = []
            async for e in call:
                seen.append(e)
                if e.HasField("text"):
                    break
            call.cancel()  # the connection drops
            resumed = stub.ResumeStream(
                supervisor_pb2.ResumeStreamRequest(
                    request_id="resume-1", after_sequence=seen[-1].sequence
                ),
                metadata=s.auth,
                timeout=30,
            )
            rest = [e async for e in resumed]
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                _ = [
                    e
                    async for e in stub.ResumeStream(
                        supervisor_pb2.ResumeStreamRequest(request_id="never"), metadata=s.auth
                    )
                ]
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    events = seen + rest
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert shown(events) == events[-1].final.answer == rest[-1].final.answer


NOT_COVERED = "Our documents don't cover paying by voice assistant; please email billing@."


async def test_with_strict_grounding_an_answer_citing_nothing_goes_to_a_person(
    make_stack: StackFactory, agent_configs: dict[str, AgentConfig], fake: FakeAnthropic
) -> None:
    """``llm.uncited: escalate``: Claude's text with no [n] marker (and no tool result) is
    held while it streams and never shown: the stream carries the escalation alone, with no
    reset; asked whole, the same. The Review inbox holds an item with reason ``uncited`` and
    Claude's text, for the reviewer alone: neither the stored result nor GetResult has it."""
    configs = {**agent_configs, "billing": strict_grounding(agent_configs["billing"])}
    fake.default = Reply.text(NOT_COVERED)
    async with make_stack(configs) as s:
        question = "Can I pay my invoices by asking Alexa?"
        events = await stream(s, supervisor_pb2.AskRequest(text=question))
        async with s.stub() as stub:
            asked = await stub.Ask(
                supervisor_pb2.AskRequest(text=question, request_id="strict-1"),
                metadata=s.auth,
                timeout=30,
            )
            current = await stub.GetResult(
                supervisor_pb2.GetResultRequest(request_id="strict-1"), metadata=s.auth, timeout=10
            )
        item = await s.db.review.get(asked.review.item_id)
        from_stream = await s.db.review.get(events[-1].final.review.item_id)
        assert item is not None and from_stream is not None
        kept = await s.db.idempotency.get(item.tenant, asked.request_id)
    final = events[-1].final
    assert final.agent == "billing" and final.status == common_pb2.ESCALATED
    assert final.mode == "llm" and final.uncited and not final.citations
    assert "passed your request to a person" in final.answer
    assert final.review.reason == "uncited" and final.review.item_id
    streamed = "".join(e.text.text for e in events if e.HasField("text"))
    assert "voice assistant" not in streamed  # Claude's uncited text never left ...
    assert not any(e.HasField("reset") for e in events)  # ... so nothing was taken back
    assert streamed == final.answer == shown(events)
    assert asked.status == common_pb2.ESCALATED and asked.answer == final.answer
    assert asked.review.reason == "uncited"
    assert item.draft["withheld_draft"] == NOT_COVERED  # the reviewer's to read ...
    assert from_stream.draft["withheld_draft"] == NOT_COVERED
    assert item.draft["answer"] == asked.answer and item.draft["uncited"]
    assert kept is not None and kept.response  # ... not kept with the caller's answer
    assert b"voice assistant" not in kept.response and b"passed your request" in kept.response
    assert current.status == common_pb2.ESCALATED and current.answer == asked.answer


async def test_with_strict_grounding_a_compound_part_citing_nothing_goes_to_a_person(
    make_stack: StackFactory, agent_configs: dict[str, AgentConfig], fake: FakeAnthropic
) -> None:
    """A compound request whose strict billing part cites nothing: that part escalates and its
    text never streams; the support part is answered. The item's withheld draft holds what
    billing's model wrote, headed by its part; the caller's answer and stored result do not."""
    configs = {**agent_configs, "billing": strict_grounding(agent_configs["billing"])}

    def by_part(body: JSON) -> Reply:
        return Reply.text(NOT_COVERED if "VAT number" in last_user_text(body) else ANSWER)

    fake.default = by_part
    async with make_stack(configs) as s:
        events = await stream(s, supervisor_pb2.AskRequest(text=COMPOUND, request_id="strict-2"))
        final = events[-1].final
        item = await s.db.review.get(final.review.item_id)
        assert item is not None
        kept = await s.db.idempotency.get(item.tenant, final.request_id)
    assert events[0].route.method == "compound"
    assert final.status == common_pb2.ESCALATED and final.review.reason == "compound_part"
    billing, support = final.parts
    assert (billing.agent, billing.status) == ("billing", common_pb2.ESCALATED)
    assert (support.agent, support.status) == ("support", common_pb2.ANSWERED)
    assert "passed your request to a person" in billing.answer
    assert not any(e.HasField("reset") and e.reset.part == 1 for e in events)
    assert "voice assistant" not in shown(events, 1) and "voice assistant" not in final.answer
    assert item.draft["withheld_draft"] == f'Billing, on "{billing.text}":\n{NOT_COVERED}'
    assert kept is not None and kept.response and b"voice assistant" not in kept.response


async def test_with_strict_grounding_a_cited_answer_still_streams(
    make_stack: StackFactory, agent_configs: dict[str, AgentConfig], fake: FakeAnthropic
) -> None:
    """Held only until its first citation: a cited answer streams in pieces, as by default."""
    configs = {**agent_configs, "billing": strict_grounding(agent_configs["billing"])}
    async with make_stack(configs) as s:
        events = await stream(s, supervisor_pb2.AskRequest(text=QUESTION))
    final = events[-1].final
    assert final.agent == "billing" and final.status == common_pb2.ANSWERED
    assert not final.uncited and final.citations
    pieces = [e.text.text for e in events if e.HasField("text")]
    assert len(pieces) > 1 and "".join(pieces) == final.answer == shown(events)
    assert not any(e.HasField("reset") for e in events)
