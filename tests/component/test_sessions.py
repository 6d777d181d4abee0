"""Session stickiness: the rule, its state in the store, and the supervisor using both."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from switchboard.cli.main import main
from switchboard.core.auth import Principal, PrincipalKind
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.settings import LimitSettings
from switchboard.core.types import AgentCard, Outcome
from switchboard.devtools.evals.sessions import fit_rule, load_conversations, prepare, turn_metrics
from switchboard.store import Store, StoreError
from switchboard.store.sessions import SessionState
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import Method, Router
from switchboard.supervisor.routing.sessions import Conversation, SessionMemory, StickyRule
from tests.conftest import ROOT
from tests.fakes.agents import FakeAgentClient
from tests.harness import apps
from tests.harness.store import open_sqlite_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REFUND = "Can I get a refund on our annual plan? We renewed by mistake last week."
FOLLOW_UP = "and how long does that take?"
# routed alone, this one goes to support (its words are about seeing things arrive)
VAGUE_FOLLOW_UP = "ok, and when will I see it?"
SWITCH = "Thanks. Different question: how do I set up SAML single sign-on with Okta?"


# ------------------------------------------------------------------------------ the rule


def test_stays_unless_another_agent_is_confident() -> None:
    rule = StickyRule(switch_confidence=0.85)
    stay, why = rule.decide("billing", {"billing": 0.2, "account": 0.6, "support": 0.2}, [])
    assert stay and "no other agent is confident" in why and "account 0.60 < 0.85" in why
    stay, why = rule.decide("billing", {"billing": 0.9, "account": 0.05, "support": 0.05}, [])
    assert stay and "fits the conversation" in why
    stay, why = rule.decide("billing", {"billing": 0.05, "account": 0.9, "support": 0.05}, [])
    assert not stay and "moved from billing to account" in why
    assert not rule.decide("billing", {"billing": 0.1, "account": 0.85, "support": 0.05}, [])[0]


def test_a_keyword_of_another_agent_or_an_unknown_agent_ends_stickiness() -> None:
    rule = StickyRule()
    probs = {"billing": 0.9, "support": 0.1}
    stay, why = rule.decide("billing", probs, ["support"])
    assert not stay and "support's keywords" in why
    assert rule.decide("billing", probs, ["billing"])[0]  # its own keyword: stays
    assert rule.decide("billing", probs, ["billing", "support"])[0]  # two agents named: no rule
    stay, why = rule.decide("marketing", probs, [])
    assert not stay and "no longer known" in why


def test_context_blends_the_previous_turn() -> None:
    query = np.array([1.0, 0.0, 0.0], np.float32)
    previous = np.array([0.0, 1.0, 0.0], np.float32)
    blended = StickyRule(context_weight=1.0).in_context(query, previous)
    assert np.allclose(blended, [2**-0.5, 2**-0.5, 0.0], atol=1e-6)
    assert float(np.linalg.norm(StickyRule(context_weight=0.5).in_context(query, previous))) == (
        pytest.approx(1.0, abs=1e-6)
    )
    assert StickyRule().in_context(query, None) is query
    assert StickyRule(context_weight=0.0).in_context(query, previous) is query
    assert StickyRule().in_context(query, np.ones(5, np.float32)) is query  # other model


# ------------------------------------------------------------------------------ the store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_sqlite_store(tmp_path)
    yield s
    await s.close()


async def test_session_state_round_trip_on_sqlite(store: Store) -> None:
    states = store.session_states
    vector = np.arange(384, dtype=np.float32) / 384
    assert await states.get("acme", "s1", now=T0) is None
    await states.save("acme", "s1", "billing", vector.tobytes(), ttl_s=600, now=T0)
    got = await states.get("acme", "s1", now=T0 + timedelta(seconds=1))
    assert got is not None and got.agent == "billing" and got.turns == 1
    assert np.array_equal(np.frombuffer(got.last_vector or b"", np.float32), vector)
    assert got.expires_at == T0 + timedelta(seconds=600)
    assert await states.get("other-tenant", "s1", now=T0) is None  # tenants are separate

    later = T0 + timedelta(seconds=60)
    await states.save("acme", "s1", "account", None, ttl_s=600, now=later)
    got = await states.get("acme", "s1", now=later)
    assert got is not None and (got.agent, got.turns, got.last_vector) == ("account", 2, None)
    assert got.expires_at == later + timedelta(seconds=600)  # each turn extends it

    expired = later + timedelta(seconds=601)
    assert await states.get("acme", "s1", now=expired) is None
    await states.save("acme", "s1", "support", None, ttl_s=600, now=expired)  # starts afresh
    got = await states.get("acme", "s1", now=expired)
    assert got is not None and (got.agent, got.turns) == ("support", 1)


async def test_purge_removes_expired_sessions_only(store: Store) -> None:
    states = store.session_states
    await states.save("acme", "old", "billing", None, ttl_s=10)
    await states.save("acme", "new", "billing", None, ttl_s=3600)
    assert await states.purge_expired(now=datetime.now(UTC) + timedelta(seconds=60)) == 1
    assert await states.get("acme", "new") is not None
    removed = await store.purge()
    assert removed["session_state"] == 0 and "example_candidates" in removed


async def test_two_replicas_share_the_session(tmp_path: Path) -> None:
    a, b = await open_sqlite_store(tmp_path), await open_sqlite_store(tmp_path)
    try:
        await a.session_states.save("", "s", "billing", None, ttl_s=600)
        got = await b.session_states.get("", "s")
        assert got is not None and got.agent == "billing"
    finally:
        await a.close()
        await b.close()


class BrokenStates:
    async def get(self, tenant: str, session_id: str) -> SessionState | None:
        raise StoreError("database is down")

    async def save(
        self, tenant: str, session_id: str, agent: str, last_vector: bytes | None, *, ttl_s: float
    ) -> None:
        raise StoreError("database is down")


async def test_a_failing_store_means_routing_without_the_session() -> None:
    memory = SessionMemory(BrokenStates())
    assert await memory.load("acme", "s1") is None
    await memory.remember("acme", "s1", "billing", None)  # logged, not raised
    assert await memory.load("acme", "") is None


# ------------------------------------------------------------------------------ routing


@pytest.fixture
def router(embedder: MiniLMEmbedder, card_index: EmbeddingIndex) -> Router:
    r = Router(embedder, accept_confidence=0.7, min_similarity=0.3, out_of_scope_similarity=0.2)
    r.use_index(card_index)
    return r


async def test_follow_up_stays_and_a_clear_switch_moves(router: Router) -> None:
    memory = SessionMemory(BrokenStates())  # the store is not used by route()
    first = await router.route(REFUND)
    assert first.agent == "billing" and first.query_vector is not None
    alone = await router.route(FOLLOW_UP)
    assert alone.agent != "billing"  # on its own the follow-up routes poorly

    conversation = Conversation("billing", first.query_vector, 1)
    query = await router.embed(FOLLOW_UP)
    kept = await memory.route(router, FOLLOW_UP, query, conversation)
    assert (kept.agent, kept.method) == ("billing", Method.SESSION)
    assert kept.reason.startswith("follow-up stays with billing")
    assert kept.query_vector is not None and not np.array_equal(kept.query_vector, query)
    assert kept.candidates[0].score >= kept.candidates[-1].score

    query = await router.embed(SWITCH)
    moved = await memory.route(router, SWITCH, query, conversation)
    assert moved.agent == "account" and moved.method == Method.EMBEDDING
    assert moved.reason.startswith("the topic moved from billing to account")


ACME = Principal(PrincipalKind.TENANT, "acme")


async def test_supervisor_keeps_a_conversation_with_its_agent(
    tmp_path: Path,
    store: Store,
    router: Router,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
) -> None:
    client = FakeAgentClient()
    async with apps.supervisor(
        tmp_path,
        apps.entries(agent_cards),
        settings=apps.supervisor_settings(tmp_path, limits=LimitSettings(max_text_chars=400)),
        embedder=embedder,
        card_index=card_index,
        agent_client=client,
        store=store,  # ours: still open after the supervisor closes
    ) as app:
        recorder = app.service._examples
        assert recorder is not None

        async def ask(text: str, session: str = "conv-1", agent: str = "") -> tuple[str, str]:
            # the tenant is the authenticated caller's (the ACME token), never the metadata's
            result = await apps.ask(
                app, text, agent=agent, principal=ACME, session_id=session, timeout=None
            )
            return result.agent, result.route.method

        assert await ask(REFUND) == ("billing", Method.EMBEDDING)
        assert await ask(FOLLOW_UP) == ("billing", Method.SESSION)
        assert await ask(SWITCH) == ("account", Method.EMBEDDING)
        state = await store.session_states.get("acme", "conv-1")
        assert state is not None and (state.agent, state.turns) == ("account", 3)
        # The session keeps the turn's own embedding; the agent got the follow-up in context.
        switch_vector = await router.embed(SWITCH)
        assert np.allclose(np.frombuffer(state.last_vector or b"", np.float32), switch_vector)
        follow_up_request = client.invocations[1][1]
        assert follow_up_request.query_embedding is not None
        assert not np.allclose(follow_up_request.query_embedding, await router.embed(FOLLOW_UP))

        # The caller naming an agent wins, and the conversation follows it.
        assert await ask("What's up?", agent="support") == ("support", Method.EXPLICIT)
        assert await ask(FOLLOW_UP) == ("support", Method.SESSION)

        # A "tenant" in the caller's metadata is no tenant: no way into acme's session.
        claimed = await apps.ask(
            app, REFUND, session_id="conv-1", metadata={"tenant": "acme"}, timeout=None
        )
        assert (claimed.agent, claimed.route.method) == ("billing", Method.EMBEDDING)
        state = await store.session_states.get("acme", "conv-1")
        assert state is not None and (state.agent, state.turns) == ("support", 5)
        untenanted = await store.session_states.get("", "conv-1")
        assert untenanted is not None and untenanted.agent == "billing"

        # Without a session the follow-up is a clarification; without a previous answer, too.
        unsure = await apps.ask(app, FOLLOW_UP, timeout=None)
        assert unsure.outcome == Outcome.NEEDS_CLARIFICATION
        assert await store.session_states.get("", "") is None
        # ...and that request waits for a person to say which agent it needed.
        await recorder.flush()
        again = await apps.ask(app, f"  {FOLLOW_UP.upper()}", timeout=None)
    # leaving the supervisor wrote what was queued
    assert again.outcome == Outcome.NEEDS_CLARIFICATION
    assert (recorder.recorded, recorder.dropped) == (2, 0)
    [candidate] = await store.examples.query()  # the same text is recorded once
    assert (candidate.request_id, candidate.agent) == (unsure.request_id, None)
    assert candidate.status == "unresolved" and candidate.text == FOLLOW_UP


# ------------------------------------------------------------------------------ measured


def test_stickiness_beats_routing_each_turn_alone(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex
) -> None:
    """On the labelled conversations the default rule must clearly beat no stickiness."""
    conversations = load_conversations(ROOT / "tests" / "data" / "sessions.yaml")
    assert len(conversations) >= 40
    assert all(2 <= len(c.turns) <= 4 for c in conversations)
    replay = prepare(conversations, card_index, embedder, weights=[0.5])
    alone = turn_metrics(replay, replay.predict(None))
    sticky = turn_metrics(replay, replay.predict(StickyRule()))
    assert sticky["follow_up_accuracy"] >= alone["follow_up_accuracy"] + 0.2
    assert sticky["turn_accuracy"] >= 0.95 and sticky["switch_accuracy"] >= 0.9
    assert sticky["bounces"] < alone["bounces"]
    rule, right, _ = fit_rule(replay, weights=[0.5])
    assert right >= round(sticky["turn_accuracy"] * len(replay.turns))
    assert 0.5 <= rule.switch_confidence < 1.0


def test_eval_sessions_command_reports_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "sessions.yaml"
    data.write_text(
        "conversations:\n"
        f"  - id: refund\n    turns:\n      - {{text: {REFUND!r}, agent: billing}}\n"
        f"      - {{text: {VAGUE_FOLLOW_UP!r}, agent: billing}}\n"
        f"      - {{text: {SWITCH!r}, agent: account}}\n"
    )
    out = tmp_path / "report.json"
    args = ["eval", "sessions", "--data", str(data), "--no-cv", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert (report["turns"], report["follow_ups"], report["switches"]) == (3, 1, 1)
    assert report["without_stickiness"]["follow_up_accuracy"] == 0.0  # alone: support's
    assert report["with_stickiness"]["turn_accuracy"] == 1.0
    assert "SWITCHBOARD_SESSION_SWITCH_CONFIDENCE=" in capsys.readouterr().out
    data.write_text("conversations:\n  - id: x\n    turns: [{text: hi, agent: marketing}]\n")
    assert main(args) == 2
    assert "unknown agents: marketing" in capsys.readouterr().err
