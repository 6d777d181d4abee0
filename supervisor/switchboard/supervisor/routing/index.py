"""Every agent card's texts embedded once, with the scoring model fitted on them.

The router, the session rule and the compound planner all score against this one index;
tests and evaluations build it once and share it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from switchboard.core.embeddings import Embedder, Matrix, Vector
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.scoring import ScoringModel


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    words = sorted({k.strip().lower() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


@dataclass
class EmbeddingIndex:
    """Every card's texts, embedded once, and the scoring model fitted on them."""

    agents: list[str]
    labels: np.ndarray  # agent index per row
    vectors: Matrix
    cards: dict[str, AgentCard] = field(default_factory=dict)
    model: ScoringModel | None = None
    keyword_rules: dict[str, re.Pattern[str]] = field(default_factory=dict)

    @staticmethod
    def card_texts(cards: Sequence[AgentCard]) -> tuple[list[str], list[int], list[bool]]:
        """(texts, agent index per text, whether the text is an example request)."""
        texts: list[str] = []
        labels: list[int] = []
        examples: list[bool] = []
        for i, card in enumerate(cards):
            for text, is_example in [
                (card.description, False),
                *((e, True) for e in card.examples),
                *((t, False) for t in card.topics),
            ]:
                texts.append(text)
                labels.append(i)
                examples.append(is_example)
        return texts, labels, examples

    @classmethod
    def build(
        cls, cards: Sequence[AgentCard], embedder: Embedder, *, calibrate: bool = True
    ) -> EmbeddingIndex:
        texts, labels, examples = cls.card_texts(cards)
        vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dimension), np.float32)
        return cls.from_vectors(
            cards,
            vectors,
            np.asarray(labels),
            calibrate=calibrate,
            examples=np.asarray(examples),
            texts=texts,
        )

    @classmethod
    def from_vectors(
        cls,
        cards: Sequence[AgentCard],
        vectors: Matrix,
        labels: np.ndarray,
        *,
        calibrate: bool = True,
        examples: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
    ) -> EmbeddingIndex:
        """An index over card texts embedded elsewhere (``labels`` index into ``cards``;
        ``examples`` marks the rows that are example requests, used to calibrate; ``texts``,
        the rows' texts, add the word-piece view)."""
        agents = [c.name for c in cards]
        model = (
            ScoringModel.fit(
                vectors, labels, len(agents), calibrate=calibrate, holdout=examples, texts=texts
            )
            if len(labels)
            else None
        )
        rules = {c.name: p for c in cards if (p := _keyword_pattern(c.keywords)) is not None}
        return cls(agents, labels, vectors, {c.name: c for c in cards}, model, rules)

    @property
    def temperature(self) -> float:
        return self.model.temperature if self.model else 0.0

    def top_similarity(self, query: Vector, agent: str) -> float:
        """Mean cosine of the agent's 3 nearest card texts: how close the request is at all."""
        if self.model is None or agent not in self.agents:
            return -1.0
        return float(self.model.top_similarity(query, np.array([self.agents.index(agent)]))[0])

    def confidences(
        self, query: Vector, temperature: float | None = None, *, text: str | None = None
    ) -> tuple[dict[str, float], dict[str, float]]:
        """(scores, calibrated confidences) per agent. ``text`` is the request whose embedding
        ``query`` is (None for a vector blended with context: scored without the word view)."""
        if self.model is None:
            flat = 1.0 / max(len(self.agents), 1)
            return {a: -1.0 for a in self.agents}, {a: flat for a in self.agents}
        raw = self.model.scores(query, None if text is None else [text])
        if temperature is None:
            temperature = self.model.temperature_for(with_text=text is not None)
        probs = ScoringModel.softmax_scores(raw, temperature)[0]
        scores = {
            a: float(v) if np.isfinite(v) else -1.0
            for a, v in zip(self.agents, raw[0], strict=True)
        }
        return scores, {a: float(p) for a, p in zip(self.agents, probs, strict=True)}

    def keyword_match(self, text: str) -> list[str]:
        """The agents whose card keywords occur in ``text`` (whole words, any case)."""
        lowered = text.lower()
        return [a for a, p in self.keyword_rules.items() if p.search(lowered)]
