"""The offline answer backend: quotes the retrieved sentences that answer the question.

Used when no API key is set or the LLM fails. It never writes anything the knowledge base
does not say, and the answer says that it is a quote. The sentences and their embeddings come
with the hits (stored at ingest, ``knowledge.sentences``), so choosing them is one matrix
product and a few set operations: no model run per request.

A sentence is chosen for what it answers, not for the words it shares: its similarity to the
question, the share of the question's rarer words it holds (idf over the candidates, so
"PayPal" counts for more than "pay"), how well its section title matches, and whether it has
the shape the question asks for (``question``): a number for "how long", a yes or a no for
"can I". A how-to is answered with the whole ordered steps of the best-matching section, a
lead-in that matches ("If the same invoice has been charged twice:") brings the list it
introduces, and a sentence that leans on the one before it ("This ...") brings it along.

It never quotes a sentence the guard's rules flag (instructions planted in a document that
reads otherwise benign), even from a passage that passed screening as a whole. ``choose``
also returns the features the answer's confidence is computed from (``confidence``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from switchboard.agent.answering.passage_layout import Layout, layout
from switchboard.agent.answering.question import (
    QuestionType,
    answers_kind,
    classify,
    coverage,
    direction,
    idf,
    opposed,
    rare,
    reverses,
    terms,
    wrong_way,
)
from switchboard.agent.answering.quotable import quotable, usable
from switchboard.agent.knowledge.sentences import SentenceSet, split_sentences
from switchboard.agent.knowledge.store import Hit
from switchboard.core.embeddings import Embedder, Vector

OFFLINE_NOTICE = "Offline answer (no LLM was used), quoted from our help docs:"

W_WORDS = 0.25  # share of the question's (idf-weighted) words the sentence holds
W_TITLE = 0.15  # ... its section title holds
W_SHAPE = 0.05  # the sentence has the shape asked for (a yes or no, a step)
W_NUMBER = 0.15  # ... a number, for a how-many/how-long question: one without is no answer
W_PASSAGE = 0.5  # its passage's retrieval score: the section as a whole is on topic
W_OPPOSED = 0.4  # it or its title names the opposite action (import for export): off topic
STEPS_MARGIN = 0.2  # a how-to takes the best list within this of the best sentence
CLOSE = 0.12  # other sentences within this of the best join the answer
MAX_STEPS = 10
SHORT_LIST = 4  # an item of a list this short is quoted with its siblings

NAVIGATION = frozenset({"related articles", "see also", "related"})
SHORT = 50  # a best sentence shorter than this (a bold FAQ title) brings its paragraph
PARAGRAPH = 3  # ... up to this many sentences of it
NEIGHBOUR = 0.15  # an adjacent sentence within this of the best joins it as context

_POINTS_ON = re.compile(r"\b(?:below|the following|as follows)[.:]?$", re.I)
_LEANS = re.compile(
    r"^(?:This|That|It|They|These|Those|Then|Otherwise|If so|Once)\b"
    r"|^(?:When|If|Once|While|Until|Unless) (?:it|this|that|they|these|those)\b"
)


def sentence_set(hit: Hit, embedder: Embedder) -> SentenceSet:
    """The hit's stored sentences; for a chunk ingested before they were stored, split and
    embedded now (slow: re-ingest the store)."""
    if hit.sentences is not None:
        return hit.sentences
    texts = split_sentences(hit.text, str(hit.metadata.get("heading", "")))
    return SentenceSet(tuple(texts), embedder.embed(texts))


def section(hit: Hit) -> str:
    heading = str(hit.metadata.get("heading", "") or hit.metadata.get("title", ""))
    return heading.rsplit(" > ", maxsplit=1)[-1].strip()


@dataclass(frozen=True)
class Extract:
    """The quote, the passages it cites (1-based), and what its confidence is read from."""

    text: str
    used: list[int]  # 1-based, in the order first quoted (the best sentence's passage first)
    kind: QuestionType
    best: float  # cosine of the best sentence to the question
    margin: float  # its score minus the best score in any other passage
    coverage: float  # idf-weighted share of the question's words the quote and title hold
    passage: float  # retrieval score of the passage quoted first
    shaped: bool  # the quote has the shape asked for (steps, a number, a yes or no)


@dataclass
class _Candidate:
    passage: int  # 0-based
    index: int  # sentence index in the passage
    text: str
    sim: float
    score: float


class _Pool(NamedTuple):
    """The candidate sentences of a question and what they were scored with."""

    cands: list[_Candidate]
    layouts: list[Layout]
    kind: QuestionType
    asked: set[str]
    weights: dict[str, float]  # idf over the candidates
    n: int  # candidates the idf was computed over
    focus: str | None  # the question's most specific word (highest idf)
    heads: list[set[str]]  # the words of each passage's section title

    def shaped(self, text: str, passage: int | None = None, said: set[str] | None = None) -> bool:
        """Has ``text`` the shape asked for? A yes or a no must also be about the thing
        asked: "We do not accept PayPal" answers "Can I pay with PayPal?", while "Brightlane
        will never ask for your CVC" does not answer "Can I buy a gift card?". The thing may
        be named in ``text`` (whose words are ``said``, when known) or in the section title of
        ``passage``."""
        if not answers_kind(self.kind, text):
            return False
        if self.kind is not QuestionType.YESNO or self.focus is None:
            return True
        if self.focus in (terms(text) if said is None else said):
            return True
        return passage is not None and self.focus in self.heads[passage]


def _candidates(
    question: str, question_vec: Vector, hits: list[Hit], sets: list[SentenceSet]
) -> _Pool:
    kind = classify(question)
    asked = terms(question)
    layouts: list[Layout] = []
    rows: list[tuple[int, int, str]] = []
    blocks = []
    for i, (hit, found) in enumerate(zip(hits, sets, strict=False)):
        shape = layout(hit.text, found.texts)
        layouts.append(shape)
        if section(hit).lower() in NAVIGATION:
            continue  # lists of other articles' titles answer nothing
        keep = [
            k
            for k, t in enumerate(found.texts)
            if usable(t)
            or ((k in shape.introduces or shape.fragment(k, t)) and quotable(t) and len(t) >= 12)
        ]
        rows.extend((i, k, found.texts[k]) for k in keep)
        if keep:
            blocks.append(found.vectors[keep])
    if not rows:
        return _Pool([], layouts, kind, asked, {}, 0, None, [])
    words = [terms(t) for _, _, t in rows]
    weights = idf(words)
    unseen = rare(weights, len(rows))
    focus = max(sorted(asked), key=lambda w: weights.get(w, unseen), default=None)
    sections = [section(h) for h in hits]
    heads = [terms(title) for title in sections]
    pool = _Pool([], layouts, kind, asked, weights, len(rows), focus, heads)
    sims = np.concatenate(blocks) @ np.asarray(question_vec, dtype=np.float32)
    titles = [coverage(asked, head, weights, len(rows)) for head in heads]
    way = direction(question)
    backwards = [reverses(way, title) for title in sections]
    for (i, k, text), said, sim in zip(rows, words, sims, strict=True):
        shaped = pool.shaped(text, i, said) or (
            kind is QuestionType.HOWTO and layouts[i].in_list(k)
        )
        # A sentence is read under its section title and in its passage: "50% off Team or
        # Business" under "Nonprofit discount" answers "Do you have a nonprofit discount?".
        score = (
            float(sim)
            + W_WORDS * coverage(asked, said, weights, len(rows))
            + W_TITLE * titles[i]
            + (W_NUMBER if kind is QuestionType.NUMBER else W_SHAPE) * shaped
            + W_PASSAGE * hits[i].score
            - W_OPPOSED * (opposed(asked, said | heads[i]) or wrong_way(way, text, backwards[i]))
        )
        pool.cands.append(_Candidate(i, k, text, float(sim), score))
    return pool


def _steps(best: _Candidate, cands: list[_Candidate], layouts: list[Layout]) -> _Candidate | None:
    """For a how-to: the best candidate inside an ordered list (steps) close enough to
    ``best``."""
    in_lists = [c for c in cands if layouts[c.passage].in_list(c.index, ordered=True)]
    top = max(in_lists, key=lambda c: c.score, default=None)
    return top if top is not None and top.score >= best.score - STEPS_MARGIN else None


def _block_lines(found: SentenceSet, shape: Layout, anchor: int) -> list[str]:
    b = shape.block_of.get(anchor, shape.introduces.get(anchor))
    assert b is not None
    block = shape.blocks[b]
    lines = [found.texts[block.lead_in]] if block.lead_in is not None else []
    for n, item in enumerate(block.items[:MAX_STEPS], start=1):
        said = " ".join(found.texts[k] for k in item if quotable(found.texts[k]))
        if said:
            lines.append(f"{n}. {said}" if block.ordered else f"- {said}")
    return lines


def _heading_like(best: _Candidate, shape: Layout) -> bool:
    """Only a title or a question: its line's bold opening, a short line, or a question."""
    return best.index in shape.titled or len(best.text) < SHORT or best.text.endswith("?")


def _context(
    best: _Candidate, cands: list[_Candidate], found: SentenceSet, shape: Layout
) -> list[_Candidate]:
    """The sentences next to ``best`` that it needs: the ones after when it points on
    ("... below."), the one before when it leans on it ("This ..."), the rest of its
    paragraph when it is only a title or a question ("**Messages
    stopped posting.** The most common cause ..."), and a neighbour that scores almost as
    well."""
    by_index = {c.index: c for c in cands if c.passage == best.passage}
    out = []
    if _POINTS_ON.search(best.text):  # "... each browser below.": what follows is the answer
        after = range(best.index + 1, min(best.index + 1 + PARAGRAPH, len(found.texts)))
        out = [
            by_index.get(k) or _Candidate(best.passage, k, found.texts[k], 0.0, 0.0)
            for k in after
            if quotable(found.texts[k])
        ]
        if out:
            return out
    if _heading_like(best, shape):
        rest = [k for k in shape.paragraph.get(best.index, []) if k > best.index]
        out = [
            by_index.get(k) or _Candidate(best.passage, k, found.texts[k], 0.0, 0.0)
            for k in rest[:PARAGRAPH]
            if quotable(found.texts[k])
        ]
        if out:
            return out
    for k in (best.index - 1, best.index + 1):
        if not 0 <= k < len(found.texts) or not usable(found.texts[k]):
            continue
        leans = k < best.index and _LEANS.match(best.text)
        titled = k > best.index and _heading_like(best, shape)
        near = k in by_index and by_index[k].score >= best.score - NEIGHBOUR
        if leans or titled or near:
            out.append(by_index.get(k) or _Candidate(best.passage, k, found.texts[k], 0.0, 0.0))
    return out


def choose(
    question: str,
    question_vec: Vector,
    hits: list[Hit],
    sets: list[SentenceSet],
    *,
    max_sentences: int = 3,
) -> Extract | None:
    """The quote that answers ``question`` from ``hits`` (``sets[i]`` holds the sentences of
    ``hits[i]``), or None: nothing quotable."""
    pool = _candidates(question, question_vec, hits, sets)
    cands, layouts, kind = pool.cands, pool.layouts, pool.kind
    asked, weights, n = pool.asked, pool.weights, pool.n
    if not cands:
        return None
    best = max(cands, key=lambda c: c.score)
    others = [c.score for c in cands if c.passage != best.passage]
    margin = best.score - max(others) if others else 0.2
    anchor = _steps(best, cands, layouts) if kind is QuestionType.HOWTO else None
    lead_in = best.index in layouts[best.passage].introduces
    # A lead-in brings its list, an item of a short list the rest (but the list after a lead-in
    # does not answer a how-many question).
    short = layouts[best.passage].in_short_list(best.index, SHORT_LIST)
    if anchor is None and short and (kind is not QuestionType.NUMBER or not lead_in):
        anchor = best
    if anchor is None and layouts[best.passage].fragment(best.index, best.text):
        anchor = best  # a fragment is quoted inside its list, under its lead-in
    if anchor is not None:
        p = anchor.passage
        lines = [
            f"{section(hits[p])} [{p + 1}]",
            *_block_lines(sets[p], layouts[p], anchor.index),
            *(
                c.text
                for c in cands
                if c.passage == p
                and not layouts[p].in_list(c.index)
                and c.score >= anchor.score - CLOSE
            ),
        ]
        quoted = " ".join(lines)
        return Extract(
            OFFLINE_NOTICE + "\n" + "\n".join(lines),
            [p + 1],
            kind,
            best.sim,
            margin,
            coverage(asked, terms(quoted), weights, n),
            hits[p].score,
            # A list is the shape of a how-to; to a yes/no question it answers only if it
            # says yes or no about the thing asked.
            kind is not QuestionType.YESNO or pool.shaped(quoted),
        )
    cands = [c for c in cands if usable(c.text)]  # quoted on its own: no lead-ins
    if not cands:
        return None
    best = max(cands, key=lambda c: c.score)
    chosen = [best, *_context(best, cands, sets[best.passage], layouts[best.passage])]
    for c in sorted(cands, key=lambda c: -c.score):
        if len(chosen) >= max_sentences or c.score < best.score - CLOSE:
            break
        if all(c.text != x.text for x in chosen):
            chosen.append(c)
    # The best sentence's passage first, each passage's sentences in their own order: "We do
    # not accept PayPal" leads the answer to "Can I pay with PayPal?", not a neighbour.
    rank: dict[int, int] = {}
    for c in sorted(chosen, key=lambda c: -c.score):
        rank.setdefault(c.passage, len(rank))
    chosen.sort(key=lambda c: (rank[c.passage], c.index))
    lines = [f"- {c.text} [{c.passage + 1}]" for c in chosen]
    quoted = " ".join([*(c.text for c in chosen), section(hits[best.passage])])
    return Extract(
        OFFLINE_NOTICE + "\n" + "\n".join(lines),
        list(dict.fromkeys(c.passage + 1 for c in chosen)),
        kind,
        best.sim,
        margin,
        coverage(asked, terms(quoted), weights, n),
        hits[best.passage].score,
        any(pool.shaped(c.text, c.passage) for c in chosen),
    )


def extract_answer(
    question: str,
    question_vec: Vector,
    hits: list[Hit],
    sets: list[SentenceSet],
    *,
    max_sentences: int = 3,
) -> tuple[str, list[int]]:
    """Returns the answer text and the 1-based indexes of the passages it quotes."""
    found = choose(question, question_vec, hits, sets, max_sentences=max_sentences)
    return (found.text, found.used) if found is not None else ("", [])
