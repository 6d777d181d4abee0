"""The offline answer backend: quotes the retrieved sentences that best match the question.

Used when no API key is set or the LLM fails. It never writes anything the knowledge base
does not say, and the answer says that it was produced without the LLM. The sentences and
their embeddings come with the hits (stored at ingest, ``knowledge.sentences``), so choosing
them is one matrix product and a few set intersections: no model run per request. It never
quotes a sentence the guard's rules flag (instructions planted in a document that reads
otherwise benign), even from a passage that passed screening as a whole.
"""

from __future__ import annotations

import re

import numpy as np

from switchboard.agent.knowledge.sentences import SentenceSet, split_sentences
from switchboard.agent.knowledge.store import Hit
from switchboard.core.embeddings import Embedder, Matrix, Vector
from switchboard.guard.rules import match_rules

OFFLINE_NOTICE = "Offline answer (no LLM was used; quoted from the knowledge base):"


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


def usable(sentence: str) -> bool:
    """Lead-ins ("To do this:") and list fragments ("already be an Admin") say nothing on
    their own; short pieces rarely answer anything; a sentence the guard's rules flag is
    never quoted (planted instructions)."""
    return (
        len(sentence) >= 20
        and not sentence.endswith(":")
        and not sentence[0].islower()
        and not match_rules(sentence, "indirect")
    )


def sentence_set(hit: Hit, embedder: Embedder) -> SentenceSet:
    """The hit's stored sentences; for a chunk ingested before they were stored, split and
    embedded now (slow: re-ingest the store)."""
    if hit.sentences is not None:
        return hit.sentences
    texts = split_sentences(hit.text, str(hit.metadata.get("heading", "")))
    return SentenceSet(tuple(texts), embedder.embed(texts))


def extract_answer(
    question: str,
    question_vec: Vector,
    hits: list[Hit],
    sets: list[SentenceSet],
    *,
    max_sentences: int = 3,
) -> tuple[str, list[int]]:
    """Returns the answer text and the 1-based indexes of the passages it quotes.

    ``sets[i]`` holds the sentences of ``hits[i]`` (only the first three passages are
    quoted from). Scoring is one matrix product over every candidate sentence."""
    texts: list[str] = []
    passage: list[int] = []
    blocks: list[Matrix] = []
    for i, (_, found) in enumerate(zip(hits[:3], sets, strict=False), start=1):
        keep = [k for k, t in enumerate(found.texts) if usable(t)]
        if keep:
            texts.extend(found.texts[k] for k in keep)
            passage.extend([i] * len(keep))
            blocks.append(found.vectors[keep])
    if not texts:
        return "", []
    sims = np.concatenate(blocks) @ np.asarray(question_vec, dtype=np.float32)
    asked = _terms(question)
    overlap = np.array(
        [len(asked & _terms(t)) / len(asked) if asked else 0.0 for t in texts], dtype=np.float32
    )
    # Meaning first; shared words break ties towards the sentence that names what was
    # asked; better passages are preferred a little so the answer stays coherent.
    scores = sims + 0.25 * overlap - 0.03 * (np.asarray(passage, dtype=np.float32) - 1)
    ranked = np.argsort(-scores, kind="stable")[:max_sentences]
    chosen = sorted(int(k) for k in ranked if scores[k] >= scores[ranked[0]] - 0.15)
    lines = [f"- {texts[k]} [{passage[k]}]" for k in chosen]
    passages = sorted({passage[k] for k in chosen})
    return OFFLINE_NOTICE + "\n" + "\n".join(lines), passages
