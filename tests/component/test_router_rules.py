"""Keyword rules before the embedding router, and calibrated confidences on the demo cards."""

from __future__ import annotations

from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.core.wire import card_from_proto, card_to_proto
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import Method, Router


def make_router(embedder: MiniLMEmbedder, cards: list[AgentCard]) -> Router:
    router = Router(
        embedder, accept_confidence=0.7, min_similarity=0.3, out_of_scope_similarity=0.2
    )
    router.use_index(EmbeddingIndex.build(cards, embedder))
    return router


async def test_keywords_route_first_and_only_when_unambiguous(embedder: MiniLMEmbedder) -> None:
    cards = [
        AgentCard(name="billing", description="Invoices and payments", examples=["refund me"],
                  keywords=["invoice", "VAT number"]),
        AgentCard(name="support", description="Technical problems", examples=["app crashes"],
                  keywords=["webhook"]),
    ]  # fmt: skip
    router = make_router(embedder, cards)
    decision = await router.route("Please add our vat number to the next one")
    assert decision.agent == "billing" and decision.method == Method.RULE
    assert decision.confidence == 1.0 and decision.query_vector is not None
    both = await router.route("The webhook for a new invoice never fires")
    assert both.method != Method.RULE  # two agents' keywords: the embedding router decides
    assert (await router.route("invoiced")).method != Method.RULE  # whole words only


def test_keywords_travel_on_the_wire() -> None:
    card = AgentCard(name="a", description="d", keywords=["sso", "saml"])
    assert card_from_proto(card_to_proto(card)) == card


async def test_demo_confidences_are_calibrated_probabilities(card_index: EmbeddingIndex) -> None:
    assert card_index.model is not None and 0 < card_index.temperature < 1
    _, probs = card_index.confidences(card_index.vectors[0])
    assert abs(sum(probs.values()) - 1.0) < 1e-6
