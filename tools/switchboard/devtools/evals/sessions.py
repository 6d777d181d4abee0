"""Session routing: per-turn accuracy with and without stickiness, and its fitted thresholds.

The data (``tests/data/sessions.yaml``) is short conversations whose every turn is labelled
with the agent that should answer it. Each conversation is replayed the way the supervisor
runs it: the first turn is routed on its own; a later turn applies the sticky rule of
``switchboard.supervisor.routing.sessions`` against the agent the *previous decision* chose (so a
mistake carries over, as it would in production). A fresh routing is the router's keyword
rule, else its best agent (top-1, no clarification thresholds).

The two parameters, ``context_weight`` and ``switch_confidence``, are fitted by grid search
on turn accuracy, smoothed over nearby thresholds (see :func:`fit_rule`).
Leave-one-conversation-out accuracy of that procedure says how well it carries over to
conversations it was not fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.core.embeddings import Embedder, Vector
from switchboard.core.errors import ConfigurationError
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.sessions import StickyRule

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
THRESHOLDS = tuple(round(float(t), 2) for t in np.arange(0.5, 1.0, 0.01))
SMOOTHING = 0.05  # thresholds within this of a candidate count towards its score


class LabelledTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    agent: str = Field(min_length=1)


class LabelledConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    turns: list[LabelledTurn] = Field(min_length=1)


class SessionData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversations: list[LabelledConversation] = Field(min_length=1)


def load_conversations(path: Path) -> list[LabelledConversation]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return SessionData.model_validate(raw).conversations
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    except ValidationError as exc:
        raise ConfigurationError(f"invalid conversations file {path}:\n{exc}") from exc


@dataclass
class _Turn:
    conversation: int
    position: int
    truth: str
    previous_truth: str | None
    fresh: str  # the router's own decision: keyword rule, else its best agent
    keywords: list[str]
    vector: Vector


@dataclass
class Replay:
    """The prepared turns, and each turn's in-context confidences per context weight."""

    turns: list[_Turn]
    in_context: dict[float, list[dict[str, float]]]  # weight -> per turn (previous turn's)

    def predict(self, rule: StickyRule | None, keep: set[int] | None = None) -> list[str | None]:
        """The agent chosen for each turn (None for turns of conversations not kept)."""
        out: list[str | None] = []
        previous: str | None = None
        for i, turn in enumerate(self.turns):
            if keep is not None and turn.conversation not in keep:
                out.append(None)
                continue
            if turn.position == 0:
                previous = None
            choice = turn.fresh
            if rule is not None and previous is not None:
                confidences = self._context(rule.context_weight, i)
                stay, _ = rule.decide(previous, confidences, turn.keywords)
                choice = previous if stay else turn.fresh
            out.append(choice)
            previous = choice
        return out

    def _context(self, weight: float, i: int) -> dict[str, float]:
        return self.in_context[weight][i]


def prepare(
    conversations: Sequence[LabelledConversation],
    index: EmbeddingIndex,
    embedder: Embedder,
    weights: Sequence[float] = WEIGHTS,
) -> Replay:
    names = set(index.agents)
    unknown = sorted({t.agent for c in conversations for t in c.turns} - names)
    if unknown:
        raise ConfigurationError(f"conversations name unknown agents: {', '.join(unknown)}")
    texts = [t.text for c in conversations for t in c.turns]
    vectors = embedder.embed(texts)
    turns: list[_Turn] = []
    row = 0
    for ci, conversation in enumerate(conversations):
        for pos, labelled in enumerate(conversation.turns):
            vector = vectors[row]
            row += 1
            keywords = index.keyword_match(labelled.text)
            _, probs = index.confidences(vector, text=labelled.text)
            fresh = keywords[0] if len(keywords) == 1 else max(probs, key=lambda a: probs[a])
            turns.append(
                _Turn(
                    ci,
                    pos,
                    labelled.agent,
                    conversation.turns[pos - 1].agent if pos else None,
                    fresh,
                    keywords,
                    vector,
                )
            )
    in_context: dict[float, list[dict[str, float]]] = {}
    for weight in weights:
        rule = StickyRule(context_weight=weight)
        per_turn = []
        for i, turn in enumerate(turns):
            previous = turns[i - 1].vector if turn.position else None
            per_turn.append(index.confidences(rule.in_context(turn.vector, previous))[1])
        in_context[weight] = per_turn
    return Replay(turns, in_context)


def turn_metrics(replay: Replay, predicted: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy over all turns, first turns, follow-ups (same agent as the previous turn)
    and switches; ``bounces``: follow-ups whose agent changed though the topic did not."""
    rows = [(t, p) for t, p in zip(replay.turns, predicted, strict=True) if p is not None]

    def acc(selected: Sequence[tuple[_Turn, str | None]]) -> float:
        return round(float(np.mean([t.truth == p for t, p in selected])), 4) if selected else 0.0

    follow = [(t, p) for t, p in rows if t.position and t.truth == t.previous_truth]
    switch = [(t, p) for t, p in rows if t.position and t.truth != t.previous_truth]
    bounces = 0
    for i, (turn, choice) in enumerate(zip(replay.turns, predicted, strict=True)):
        if choice is None or not turn.position or turn.truth != turn.previous_truth:
            continue
        if predicted[i - 1] is not None and choice != predicted[i - 1]:
            bounces += 1
    return {
        "turn_accuracy": acc(rows),
        "first_turn_accuracy": acc([(t, p) for t, p in rows if not t.position]),
        "follow_up_accuracy": acc(follow),
        "switch_accuracy": acc(switch),
        "bounces": bounces,
    }


def _correct(replay: Replay, predicted: Sequence[str | None]) -> int:
    return sum(t.truth == p for t, p in zip(replay.turns, predicted, strict=True))


def fit_rule(
    replay: Replay, keep: set[int] | None = None, weights: Sequence[float] | None = None
) -> tuple[StickyRule, int, float]:
    """The best (weight, threshold) on the kept conversations: (rule, turns right, smoothed).

    Each point is scored by the mean number of turns right over thresholds within
    ``SMOOTHING`` of it, so the choice sits on a broad plateau rather than on a spike one
    conversation produced (calibration drifts by a few hundredths between deployments).
    Ties go to more turns right at the point itself, then to the lower weight.
    """
    best: tuple[float, int, float, float] | None = None  # smoothed, right, -weight, threshold
    steps = round(SMOOTHING / 0.01)
    for weight in weights or sorted(replay.in_context):
        scores = [_correct(replay, replay.predict(StickyRule(t, weight), keep)) for t in THRESHOLDS]
        for i, t in enumerate(THRESHOLDS):
            window = scores[max(0, i - steps) : i + steps + 1]
            candidate = (sum(window) / len(window), scores[i], -weight, t)
            if best is None or candidate[:3] > best[:3]:
                best = candidate
    assert best is not None
    smoothed, right, negative_weight, threshold = best
    return StickyRule(threshold, -negative_weight), right, round(smoothed, 2)


def leave_one_out(replay: Replay, weights: Sequence[float] | None = None) -> float:
    """Turn accuracy when each conversation is decided by a rule fitted on all the others."""
    conversations = sorted({t.conversation for t in replay.turns})
    right = total = 0
    for held in conversations:
        rule, _, _ = fit_rule(replay, set(conversations) - {held}, weights)
        predicted = replay.predict(rule, {held})
        right += _correct(replay, predicted)
        total += sum(p is not None for p in predicted)
    return round(right / total, 4) if total else 0.0


def evaluate_sessions(
    conversations: Sequence[LabelledConversation],
    cards: Sequence[AgentCard],
    embedder: Embedder,
    *,
    configured: StickyRule | None = None,
    cross_validate: bool = True,
) -> dict[str, Any]:
    """The report of ``switchboard eval sessions`` (and the ``sessions`` part of ``make eval``)."""
    configured = configured or StickyRule()
    index = EmbeddingIndex.build(cards, embedder)
    weights = sorted({*WEIGHTS, configured.context_weight})
    replay = prepare(conversations, index, embedder, weights)
    fitted, _, _ = fit_rule(replay)
    threshold_only, _, _ = fit_rule(replay, weights=[0.0])
    turns = replay.turns
    report: dict[str, Any] = {
        "conversations": len(conversations),
        "turns": len(turns),
        "follow_ups": sum(1 for t in turns if t.position and t.truth == t.previous_truth),
        "switches": sum(1 for t in turns if t.position and t.truth != t.previous_truth),
        "without_stickiness": turn_metrics(replay, replay.predict(None)),
        "with_stickiness": {
            **turn_metrics(replay, replay.predict(configured)),
            "switch_confidence": configured.switch_confidence,
            "context_weight": configured.context_weight,
        },
        "fitted": {
            **turn_metrics(replay, replay.predict(fitted)),
            "switch_confidence": fitted.switch_confidence,
            "context_weight": fitted.context_weight,
        },
        "threshold_only_fitted": {
            **turn_metrics(replay, replay.predict(threshold_only)),
            "switch_confidence": threshold_only.switch_confidence,
            "context_weight": 0.0,
        },
    }
    if cross_validate:
        report["fitted"]["leave_one_conversation_out_accuracy"] = leave_one_out(replay)
        report["threshold_only_fitted"]["leave_one_conversation_out_accuracy"] = leave_one_out(
            replay, [0.0]
        )
    return report
