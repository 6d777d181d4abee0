"""Conversation memory: are follow-ups answered from context? (``tests/data/conversations.yaml``)

Each labelled conversation is replayed through the real supervisor and agents, built by their
composition roots in this process (``conversations_stack``), once with conversation memory
off (today's behaviour before memory: session stickiness only) and once with it on. On every
labelled follow-up turn it measures:

- ``doc_cited``: the answer cites the labelled document;
- ``doc_top``: the labelled document is the first citation;
- ``facts``: every expected fact is in the answer (``fact_recall``: the share of facts);
- ``agent``: the turn reached the labelled agent.

Conversations marked ``held_out`` were not looked at while the follow-up query was tuned; the
report gives them separately. ``make eval`` gates ``conversations.offline.after.*``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.core.errors import ConfigurationError

METRICS = ("doc_cited", "doc_top", "facts", "fact_recall", "agent")


class LabelledTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    agent: str = Field(min_length=1)
    doc: str | None = None
    facts: list[str] = Field(default_factory=list)


class LabelledConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    held_out: bool = False
    turns: list[LabelledTurn] = Field(min_length=2)


class TurnOutcome(BaseModel):
    """What one replayed turn got."""

    conversation: str
    held_out: bool
    index: int
    agent: str
    sources: list[str]
    answer: str
    label: LabelledTurn


def load_conversations(path: Path) -> list[LabelledConversation]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [LabelledConversation.model_validate(c) for c in raw]
    except (OSError, yaml.YAMLError, ValidationError, TypeError) as exc:
        raise ConfigurationError(f"cannot read labelled conversations {path}: {exc}") from exc


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("*", "").lower())


def turn_scores(turn: TurnOutcome) -> dict[str, float]:
    label = turn.label
    answer = _norm(turn.answer)
    found = [f for f in label.facts if _norm(f) in answer]
    return {
        "doc_cited": float(label.doc in turn.sources),
        "doc_top": float(bool(turn.sources) and turn.sources[0] == label.doc),
        "facts": float(len(found) == len(label.facts)),
        "fact_recall": len(found) / len(label.facts) if label.facts else 1.0,
        "agent": float(turn.agent == label.agent),
    }


def summarise(turns: Sequence[TurnOutcome]) -> dict[str, Any]:
    """Mean of each metric over the labelled follow-ups, split by held-out."""
    out: dict[str, Any] = {}
    for split, keep in (("tuning", False), ("held_out", True)):
        scored = [turn_scores(t) for t in turns if t.label.doc and t.held_out == keep]
        out[split] = {"follow_ups": len(scored)} | {
            m: round(sum(s[m] for s in scored) / len(scored), 4) if scored else 0.0 for m in METRICS
        }
    every = [turn_scores(t) for t in turns if t.label.doc]
    out["all"] = {"follow_ups": len(every)} | {
        m: round(sum(s[m] for s in every) / len(every), 4) if every else 0.0 for m in METRICS
    }
    return out


def report_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for mode in ("offline", "fake_llm"):
        part = report.get(mode)
        if not part:
            continue
        for split in ("tuning", "held_out", "all"):
            b, a = part["before"][split], part["after"][split]
            figures = ", ".join(f"{m} {b[m]:.2f} -> {a[m]:.2f}" for m in METRICS)
            lines.append(f"conversations {mode} {split} ({a['follow_ups']} follow-ups): {figures}")
    return lines
