"""The offline answer backend: quotes the retrieved sentences that best match the question.

Used when no API key is set or the LLM fails. It never writes anything the knowledge base
does not say, and the answer says that it was produced without the LLM. It never quotes a
sentence the guard's rules flag (instructions planted in a document that reads otherwise
benign), even from a passage that passed screening as a whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from switchboard.agent.knowledge.store import Hit
from switchboard.core.context import Deadline
from switchboard.core.embeddings import Embedder, Vector
from switchboard.guard.rules import match_rules

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


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_sentences(rows: list[str]) -> list[str]:
    """One sentence per data row, each cell labelled by its column header.

    "| Team | 250 MB |" under "| Plan | Maximum size per file |" becomes
    "Team: Maximum size per file 250 MB", which reads on its own.
    """
    cells = [_cells(r) for r in rows if not all(set(c) <= set("-: ") for c in _cells(r))]
    if len(cells) < 2:
        return [": ".join(c for c in row if c) for row in cells]
    header, body = cells[0], cells[1:]
    out = []
    for row in body:
        labelled = [f"{h} {v}".strip() for h, v in zip(header[1:], row[1:], strict=False) if v]
        out.append(f"{row[0]}: " + "; ".join(labelled) if labelled else row[0])
    return out


def _lines(body: str) -> list[str]:
    """Prose lines, list items without their markers, and tables as labelled rows."""
    out: list[str] = []
    table: list[str] = []
    in_code = False
    for raw in [*body.splitlines(), ""]:
        if raw.lstrip().startswith("|") and not in_code:
            table.append(raw)
            continue
        if table:
            out.extend(_table_sentences(table))
            table = []
        if raw.lstrip().startswith("```"):
            in_code = not in_code
            continue
        line = _LIST_MARK.sub("", raw).strip()
        if not in_code and line and not line.startswith("#"):
            out.append(line)
    return [line.replace("**", "") for line in out]


def _sentences(hit: Hit) -> list[str]:
    heading = str(hit.metadata.get("heading", ""))
    body = hit.text
    if heading and body.startswith(heading):
        body = body[len(heading) :].strip()  # the heading path prefix is not content
    out: list[str] = []
    for line in _lines(body):
        for piece in _SENTENCE_END.split(line):
            sentence = piece.strip()
            # Lead-ins ("To do this:") and list fragments ("already be an Admin") say nothing
            # on their own.
            if (
                len(sentence) >= 20
                and not sentence.endswith(":")
                and not sentence[0].islower()
                and not match_rules(sentence, "indirect")  # never quote planted instructions
            ):
                out.append(sentence)
    return out


def extract_answer(
    question: str,
    question_vec: Vector,
    hits: list[Hit],
    embedder: Embedder,
    *,
    max_sentences: int = 3,
    deadline: Deadline | None = None,
) -> tuple[str, list[int]]:
    """Returns the answer text and the 1-based indexes of the passages it quotes.

    Runs in a worker thread: it checks ``deadline`` between its steps, so an expired request
    stops here instead of embedding for nobody."""
    candidates: list[tuple[str, int]] = []
    for i, hit in enumerate(hits[:3], start=1):
        candidates.extend((s, i) for s in _sentences(hit))
    if not candidates:
        return "", []
    if deadline is not None:
        deadline.check("the offline answer's sentences were scored")
    vectors = embedder.embed([s for s, _ in candidates])
    if deadline is not None:
        deadline.check("the offline answer was put together")
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
