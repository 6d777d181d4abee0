"""The offline answer backend: quotes the retrieved sentences that best match the question.

Used when no API key is set or the LLM fails. It never writes anything the knowledge base
does not say, and the answer says that it was produced without the LLM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from switchboard.agent.store import Hit
from switchboard.core.embeddings import Embedder, Vector

OFFLINE_NOTICE = "Offline answer (no LLM was used; quoted from the knowledge base):"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class Extract:
    text: str
    passage: int  # 1-based index into the hits
    score: float


_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def _table_row(line: str) -> str | None:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if all(set(c) <= set("-: ") for c in cells):
        return None  # the separator row
    return ": ".join(c for c in cells if c)


def _sentences(hit: Hit) -> list[str]:
    heading = str(hit.metadata.get("heading", ""))
    body = (
        hit.text[len(heading) :].strip() if heading and hit.text.startswith(heading) else hit.text
    )
    out: list[str] = []
    in_code = False
    for raw in body.splitlines():
        if raw.lstrip().startswith("```"):
            in_code = not in_code
            continue
        line = _LIST_MARK.sub("", raw).replace("**", "").strip()
        if in_code or not line or line.startswith("#"):
            continue
        if line.startswith("|"):
            row = _table_row(line)
            line = row or ""
        for piece in _SENTENCE_END.split(line):
            sentence = piece.strip()
            # Lead-ins ("To do this:") and list fragments ("already be an Admin") say nothing
            # on their own.
            if len(sentence) >= 20 and not sentence.endswith(":") and not sentence[0].islower():
                out.append(sentence)
    return out


def extract_answer(
    question: str,
    question_vec: Vector,
    hits: list[Hit],
    embedder: Embedder,
    *,
    max_sentences: int = 3,
) -> tuple[str, list[int]]:
    """Returns the answer text and the 1-based indexes of the passages it quotes."""
    candidates: list[tuple[str, int]] = []
    for i, hit in enumerate(hits[:3], start=1):
        candidates.extend((s, i) for s in _sentences(hit))
    if not candidates:
        return "", []
    vectors = embedder.embed([s for s, _ in candidates])
    sims = vectors @ np.asarray(question_vec, dtype=np.float32)
    asked = _terms(question)

    def score(sentence: str, passage: int, sim: float) -> float:
        # Meaning first; shared words break ties towards the sentence that names what was
        # asked; better passages are preferred a little so the answer stays coherent.
        overlap = len(asked & _terms(sentence)) / len(asked) if asked else 0.0
        return sim + 0.25 * overlap - 0.03 * (passage - 1)

    ranked = sorted(
        (
            Extract(s, p, score(s, p, float(sim)))
            for (s, p), sim in zip(candidates, sims, strict=True)
        ),
        key=lambda e: e.score,
        reverse=True,
    )
    best = ranked[0].score
    chosen = [e for e in ranked[:max_sentences] if e.score >= best - 0.15]
    order = {(s, p): k for k, (s, p) in enumerate(candidates)}
    chosen.sort(key=lambda e: order[(e.text, e.passage)])
    lines = [f"- {e.text} [{e.passage}]" for e in chosen]
    passages = sorted({e.passage for e in chosen})
    return OFFLINE_NOTICE + "\n" + "\n".join(lines), passages
