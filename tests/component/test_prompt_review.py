"""The Review service's prompt RPCs and the console's prompt pages: versions, labels and the
feedback each version's answers got, scoped like the rest of the Review service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import httpx
import pytest

from switchboard.agent.config import AgentConfig
from switchboard.console.server import bound_port, server_for
from switchboard.console.settings import ConsoleSettings
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import review_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.harness.review import Stack, ask, bearer, review, review_stack
from tests.harness.stack import Credentials

QUESTION = "How long do I have to ask for a refund on an annual plan?"


async def rate(stack: Stack, request_id: str, thumb: int) -> None:
    async with stack.channel() as channel:
        await supervisor_pb2_grpc.SupervisorStub(channel).Feedback(
            supervisor_pb2.FeedbackRequest(request_id=request_id, thumb=thumb),  # type: ignore[arg-type]
            metadata=bearer(stack.creds.token),
            timeout=10,
        )


async def test_prompt_versions_in_the_review_service_and_the_console(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> None:
    creds = Credentials()
    async with review_stack(
        tmp_path, embedder=embedder, configs=agent_configs, cards=agent_cards,
        index=card_index, creds=creds,
    ) as stack:  # fmt: skip
        reply = await ask(stack, QUESTION, "pr-1", agent="billing")
        assert reply.prompt_version == "billing@v1"
        await rate(stack, "pr-1", supervisor_pb2.THUMB_UP)
        v1 = await stack.db.prompts.get("billing", 1)
        await stack.db.prompts.create(
            agent="billing", system_prompt=v1.system_prompt + "\nBe warm.", rules=v1.rules,
            model=v1.model, params=v1.params, author="alice", note="warmer tone",
        )  # fmt: skip
        await stack.db.prompts.move("billing", "staging", to=2, expect_revision=0, actor="alice")

        listed = await review(stack, "ListPromptVersions", review_pb2.PromptListRequest())
        by_ref = {v.version: v for v in listed.versions}
        assert {"billing@v1", "billing@v2", "support@v1"} <= set(by_ref)
        assert list(by_ref["billing@v1"].labels) == ["production"]
        assert list(by_ref["billing@v2"].labels) == ["staging"]
        assert (by_ref["billing@v1"].feedback, by_ref["billing@v1"].positive) == (1, 1)
        assert {(lb.agent, lb.label, lb.version) for lb in listed.labels} >= {
            ("billing", "production", 1), ("billing", "staging", 2),
        }  # fmt: skip

        # Another tenant's reviewer sees the versions, not this tenant's feedback.
        other = await review(
            stack, "ListPromptVersions", review_pb2.PromptListRequest(agent="billing"),
            token=creds.other_reviewer_token,
        )  # fmt: skip
        assert {v.version: v.feedback for v in other.versions}["billing@v1"] == 0

        detail = await review(
            stack, "GetPromptVersion", review_pb2.PromptGetRequest(agent="billing", number=1)
        )
        assert detail.system_prompt == v1.system_prompt and detail.rules == v1.rules
        assert [m.action for m in detail.moves] == ["seed"]

        for request, code in [
            (review_pb2.PromptGetRequest(agent="billing", number=9), grpc.StatusCode.NOT_FOUND),
            (review_pb2.PromptGetRequest(agent="Bad!", number=1), grpc.StatusCode.INVALID_ARGUMENT),
            (review_pb2.PromptGetRequest(agent="billing"), grpc.StatusCode.INVALID_ARGUMENT),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await review(stack, "GetPromptVersion", request)
            assert failed.value.code() == code
        with pytest.raises(grpc.aio.AioRpcError) as denied:  # a caller is not a reviewer
            await review(
                stack, "ListPromptVersions", review_pb2.PromptListRequest(), token=creds.token
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

        server = server_for(ConsoleSettings(supervisor=stack.address, port=0))
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                assert not task.done(), "the console did not start"
                await asyncio.sleep(0.05)
            base = f"http://127.0.0.1:{bound_port(server)}"
            async with httpx.AsyncClient(base_url=base, follow_redirects=True) as web:
                await web.post("/login", data={"token": creds.reviewer_token})
                page = (await web.get("/prompts")).text
                assert "billing@v2" in page and "warmer tone" in page
                assert 'href="/prompts/billing/1"' in page and "100%" in page
                one = (await web.get("/prompts/billing/1")).text
                assert "Brightlane Billing Specialist" in one and "seed" in one
                missing = (await web.get("/prompts/billing/9")).text
                assert "NOT_FOUND" in missing
        finally:
            server.should_exit = True
            await task
