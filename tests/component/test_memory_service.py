"""The Memory service over real gRPC: a caller lists and erases its own tenant's end users'
conversations (never another tenant's), people's tokens are refused, every erasure is
audited, and after ForgetUser nothing of the user is recalled or left in the store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest

from switchboard.agent.config import AgentConfig
from switchboard.cli.main import main
from switchboard.core.audit import AuditKind
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import memory_pb2, memory_pb2_grpc, supervisor_pb2, supervisor_pb2_grpc
from tests.harness.review import CUSTOMER, OFF_TOPIC, Stack, bearer, review_stack
from tests.harness.stack import Credentials

Code = grpc.StatusCode


async def _ask(
    stack: Stack, text: str, *, token: str, user: str = "alice", customer: str = CUSTOMER
) -> Any:
    async with stack.channel() as channel:
        return await supervisor_pb2_grpc.SupervisorStub(channel).Ask(
            supervisor_pb2.AskRequest(
                text=text,
                session_id="s1",
                metadata={"customer_id": customer, "user_id": user}
                if customer
                else {"user_id": user},
            ),
            metadata=bearer(token),
            timeout=30,
        )


async def _memory(stack: Stack, method: str, request: Any, token: str) -> Any:
    async with stack.channel() as channel:
        call = getattr(memory_pb2_grpc.MemoryStub(channel), method)
        return await call(request, metadata=bearer(token), timeout=30)


async def test_list_and_forget_a_user_in_ones_own_tenant_only(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
    capsys: pytest.CaptureFixture[str],
) -> None:
    creds = Credentials()
    async with review_stack(
        tmp_path,
        embedder=embedder,
        configs=agent_configs,
        cards=agent_cards,
        index=card_index,
        creds=creds,
    ) as stack:
        first = await _ask(
            stack,
            "We're on the annual Business plan. How long does a refund take?",
            token=creds.token,
        )
        assert first.conversation.state == "new"
        second = await _ask(stack, "And after two weeks?", token=creds.token)
        assert (second.conversation.state, second.conversation.turns) == ("continued", 1)
        third = await _ask(stack, OFF_TOPIC, token=creds.token)
        # As if Claude had routed it: a candidate holding the user's text, for review.
        await stack.db.examples.propose(
            third.request_id, OFF_TOPIC, tenant="acme", agent="support", outcome="ANSWERED"
        )
        other = await _ask(
            stack, "Do you refund annual plans?", token=creds.other_token, customer=""
        )
        assert other.conversation.state == "new"  # globex's own s1: nothing of acme's
        candidates = await stack.db.examples.query()
        assert any(c.text == OFF_TOPIC and c.tenant == "acme" for c in candidates)

        listed = await _memory(
            stack, "ListMemories", memory_pb2.ListMemoriesRequest(user_id="alice"), creds.token
        )
        [session] = listed.sessions
        assert session.session_id == "s1" and session.turns == 3
        assert [t.user for t in session.recent][:2] == [
            "We're on the annual Business plan. How long does a refund take?",
            "And after two weeks?",
        ]
        assert [f.text for f in listed.facts] == ["We're on the annual Business plan."]
        assert listed.facts[0].source_session == "s1"
        theirs = await _memory(
            stack,
            "ListMemories",
            memory_pb2.ListMemoriesRequest(user_id="alice"),
            creds.other_token,
        )
        assert [t.user for t in theirs.sessions[0].recent] == ["Do you refund annual plans?"]

        for request, token in (
            (memory_pb2.ListMemoriesRequest(user_id="alice"), creds.reviewer_token),
            (memory_pb2.ListMemoriesRequest(user_id="alice", tenant="globex"), creds.token),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await _memory(stack, "ListMemories", request, token)
            assert denied.value.code() == Code.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await _memory(stack, "ForgetUser", memory_pb2.ForgetUserRequest(), creds.token)
        assert bad.value.code() == Code.INVALID_ARGUMENT

        gone = await _memory(
            stack, "ForgetUser", memory_pb2.ForgetUserRequest(user_id="alice"), creds.token
        )
        assert gone.sessions == 1 and gone.rows_deleted >= 6  # 3 turns, summary row, state, fact
        assert await stack.db.conversations.count_user("acme", "alice") == 0
        assert await stack.db.user_memories.count_user("acme", "alice") == 0
        assert await stack.db.session_states.get("acme", "s1") is None
        assert not any(c.text == OFF_TOPIC for c in await stack.db.examples.query())
        empty = await _memory(
            stack, "ListMemories", memory_pb2.ListMemoriesRequest(user_id="alice"), creds.token
        )
        assert list(empty.sessions) == [] and list(empty.facts) == []
        # Nothing is recalled: the session starts afresh; globex's alice is untouched.
        again = await _ask(stack, "And after two weeks?", token=creds.token)
        assert again.conversation.state == "new"
        assert await stack.db.conversations.count_user("globex", "alice") == 2
        # The command line goes through the same service: globex erases its own alice.
        args = ["memory", "forget", "--user", "alice", "--address", stack.address]
        assert await asyncio.to_thread(main, [*args, f"--token={creds.other_token}"]) == 0
        assert "erased 1 session(s)" in capsys.readouterr().out
        assert await stack.db.conversations.count_user("globex", "alice") == 0
        listing = ["memory", "list", "--user", "alice", "--address", stack.address]
        assert await asyncio.to_thread(main, [*listing, f"--token={creds.token}"]) == 0
        assert "And after two weeks?" in capsys.readouterr().out  # the new turn only
        audited = await stack.audit(AuditKind.MEMORY, "forgot_user")
        mine = [a for a in audited if a.tenant == "acme"]
        assert mine and mine[0].detail["by"] == "acme/caller"
        assert int(str(mine[0].detail["rows"])) >= 5
