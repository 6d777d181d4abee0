"""The labelled answer set and how one reply is scored against it (issue 17), judge-free.

The cases (``evals/answers/questions.yaml``) are customer questions written from the
knowledge bases: the facts a right answer contains, the documents that hold them, and
whether any document answers at all. Each reply is scored here with no model beyond the
sentence embedder, so the same figures come out offline, in CI and through the fake LLM:

- fact recall: the expected facts appear in the answer (case, emphasis and spacing ignored;
  a fact given as a list is met by any one of its alternatives);
- citation precision: the cited documents hold the facts (a citation counts when its
  document contains at least one expected fact);
- groundedness: each answer sentence is supported by a passage of a cited document, by word
  overlap or, failing that, embedding similarity (``answers_grounding``);
- abstention: a question no document answers is escalated or sent back for clarification;
- calibration: the answer's confidence against whether it was right (expected calibration
  error over answered questions).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

ABSTAINED = frozenset({"ESCALATED", "NEEDS_CLARIFICATION"})


class Split(StrEnum):
    DEV = "dev"
    HELD_OUT = "held_out"


class AnswerCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    agent: str
    question: str = Field(min_length=1)
    type: str = "fact"
    answerable: bool = True
    facts: tuple[str | tuple[str, ...], ...] = ()
    sources: tuple[str, ...] = ()
    split: Split

    @model_validator(mode="after")
    def _labelled(self) -> AnswerCase:
        if self.answerable and not (self.facts and self.sources):
            raise ValueError(f"{self.id}: an answerable case needs facts and sources")
        if not self.answerable and (self.facts or self.sources):
            raise ValueError(f"{self.id}: an unanswerable case has no facts or sources")
        return self

    def alternatives(self) -> list[tuple[str, ...]]:
        return [(f,) if isinstance(f, str) else f for f in self.facts]


class AnswerSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    cases: list[AnswerCase]

    @model_validator(mode="after")
    def _unique(self) -> AnswerSet:
        ids = [c.id for c in self.cases]
        if len(ids) != len(set(ids)):
            raise ValueError("case ids must be unique")
        return self


def load_answer_set(path: Path) -> list[AnswerCase]:
    return AnswerSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).cases


_NOT_CONTENT = re.compile(r"[^a-z0-9$€£%@._/+#-]+")


def normalise(text: str) -> str:
    """Lower case, emphasis and punctuation runs to one space: "**Settings > Billing**" and
    "settings billing" compare equal, "$1.00" and "blp_" survive."""
    text = text.lower().replace("*", "").replace("`", "").replace("’", "'")
    text = text.replace("https://", " ").replace("http://", " ")
    return " ".join(_NOT_CONTENT.sub(" ", text).split()).strip(" .")


def facts_found(case: AnswerCase, answer: str) -> list[bool]:
    said = f" {normalise(answer)} "
    return [any(f" {normalise(a)}" in said for a in alts) for alts in case.alternatives()]


def cited_precise(case: AnswerCase, cited_texts: Sequence[str]) -> list[bool]:
    """Per citation: does its document hold at least one of the case's facts?"""
    out = []
    for text in cited_texts:
        doc = f" {normalise(text)} "
        out.append(any(f" {normalise(a)}" in doc for alts in case.alternatives() for a in alts))
    return out


@dataclass
class CaseScore:
    """One reply, scored. ``grounded`` is None when the reply abstained."""

    id: str
    agent: str
    split: str
    answerable: bool
    status: str
    confidence: float
    facts: list[bool] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    precise: list[bool] = field(default_factory=list)
    grounded: float | None = None
    text: str = ""

    @property
    def abstained(self) -> bool:
        return self.status in ABSTAINED

    @property
    def right(self) -> bool:
        """Answered with every fact, or (no document answers) abstained."""
        if not self.answerable:
            return self.abstained
        return not self.abstained and bool(self.facts) and all(self.facts)


def expected_calibration_error(confidence: Sequence[float], right: Sequence[bool]) -> float:
    """ECE over 10 equal-width bins: sum of |accuracy - mean confidence| weighted by size."""
    if not confidence:
        return 0.0
    conf = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    ok = np.asarray(right, dtype=float)
    bins = np.minimum((conf * 10).astype(int), 9)
    err = 0.0
    for b in range(10):
        mask = bins == b
        if mask.any():
            err += float(mask.mean()) * abs(float(ok[mask].mean()) - float(conf[mask].mean()))
    return err


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def summarise(scores: Sequence[CaseScore]) -> dict[str, float | int | None]:
    """The figures of one group of replies (higher is better, except ``ece``)."""
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    answered = [s for s in scores if not s.abstained]
    cited = [p for s in answerable if not s.abstained for p in s.precise]
    grounded = [s.grounded if s.grounded is not None else 0.0 for s in answered]
    ece = expected_calibration_error(
        [s.confidence for s in answered], [s.right and s.answerable for s in answered]
    )
    return {
        "cases": len(scores),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "fact_recall": _mean([float(np.mean(s.facts)) if s.facts else 0.0 for s in answerable]),
        "answer_accuracy": _mean([float(s.right) for s in answerable]),
        # the same over the questions it answered (not escalated): how often a sent answer holds
        "answered_fact_recall": _mean(
            [float(np.mean(s.facts)) if s.facts else 0.0 for s in answerable if not s.abstained]
        ),
        "answered_rate": _mean([float(not s.abstained) for s in answerable]),
        "citation_precision": _mean([float(p) for p in cited]),
        "groundedness": _mean(grounded),
        "abstention_accuracy": _mean([float(s.abstained) for s in unanswerable]),
        "ece": round(ece, 4) if answered else None,
        "calibration": round(1.0 - ece, 4) if answered else None,
    }


def breakdown(scores: Sequence[CaseScore]) -> dict[str, object]:
    """Overall and per agent, for every split and for both together."""
    out: dict[str, object] = {}
    for split in (*Split, None):
        group = [s for s in scores if split is None or s.split == split]
        part: dict[str, object] = {"overall": summarise(group)}
        for agent in sorted({s.agent for s in group}):
            part[agent] = summarise([s for s in group if s.agent == agent])
        out["all" if split is None else split.value] = part
    return out
