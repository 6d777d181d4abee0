"""Compound requests: "refund my last invoice and turn on two-factor login" asks two agents.

The planner cuts a request into clauses (list items, sentences, then ``and``/``plus``/
``, also``), embeds them in one embedder call and routes each with the router's cheap steps
only (keyword rules and the calibrated embedding router, never the LLM). Neighbouring
clauses for the same agent join up again, and clauses the router is unsure of (greetings,
"thanks", fragments) stay with the clause before them. The request is compound only when at
least two parts go *confidently* (the router's own acceptance thresholds) to *different*
agents; otherwise it is routed as one request, exactly as before. So a multi-clause request
for one domain ("export invoices and change the billing email") stays single, and an unsure
fragment can never create a compound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.core.embeddings import Vector
from switchboard.supervisor.routing.router import Candidate, Method, Router, RouteResult, SubRoute

DEFAULT_MAX_PARTS = 3
MAX_CLAUSES = 8  # longer requests: the tail stays with the eighth clause
MIN_WORDS = 2  # a shorter clause never counts as a confident part on its own

# Where a request can be cut: new lines (with an optional list marker), sentence ends, and
# conjunctions that join requests. "or"/"but" are left alone: they mostly join alternatives
# within one request ("remove them but keep their tasks").
_BOUNDARY = re.compile(
    r"""
      \s*\n\s*(?:(?:[-*\u2022+]|\d{1,2}[.)])\s+)?         # new line, maybe a list marker
    | (?<=[.?!;])\s+                                     # end of a sentence
    | \s*,?\s+(?:and\s+also|and\s+then|and|plus)\s+      # "and", ", and", "plus"
    | \s*,\s*also,?\s+                                   # ", also"
    | ,\s+(?=(?:how|what|why|where|when|who|which|can|could|do|does|is|are|will)\b)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_LEADING = re.compile(
    r"^(?:(?:[-*\u2022+]|\d{1,2}[.)])\s+|(?:and|also|plus|additionally|then)\b[,:]?\s*)+",
    re.IGNORECASE,
)
# "1. ... 2. ..." or "1) ... 2) ..." written on one line.
_INLINE_NUMBER = re.compile(r"(?:^|(?<=\s))\(?(\d{1,2})[.)]\s+(?=\S)")
_GLUE = re.compile(
    r"(?:[\s,;:.?!*\u2022+-]|\d{1,2}[.)]|\b(?:and|also|plus|then)\b)*", re.IGNORECASE
)
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")


# A part must ask for something on its own. Conditions ("If our payment keeps failing, ...")
# and, next to an explicit question, statements ("Someone was removed in Azure but still
# shows up. How often does it sync?") are context for the request beside them, never a part
# of their own, however confidently they would route.
_SUBORDINATE = re.compile(
    r"^(?:if|when(?:ever)?|because|since|as|although|though|while|after|before|unless|once)\b",
    re.IGNORECASE,
)


_TOPIC_SHIFT = re.compile(
    r"\b(?:and|also|additionally|separately|plus|another|besides|unrelated)\b", re.IGNORECASE
)


_QUESTION_OPENER = re.compile(
    r"^(?:how|what|why|where|who|which|can|could|would|will|is|are|do|does|did|should|may"
    r"|am|was|were|has|have)\b",
    re.IGNORECASE,
)


def _is_question(clause: str) -> bool:
    body = clause.rstrip()
    return body.endswith("?") or _QUESTION_OPENER.match(body) is not None


def context_clauses(text: str, clauses: list[Clause]) -> set[int]:
    """Indexes of clauses that are background to the question right after them.

    A statement can be a request on its own ("Our Slack notifications stopped arriving"), but
    directly before a question it is that question's background ("Someone was removed in
    Azure but still shows up. How often does it sync?"), unless the question opens a new
    topic ("... Also, how do I remove a former employee?"). A condition ("If our payment keeps
    failing, ...") is always background.
    """
    context: set[int] = set()
    for i, clause in enumerate(clauses):
        body = clause.text.rstrip()
        if _is_question(body):
            continue
        if _SUBORDINATE.match(body):
            context.add(i)
            continue
        if i + 1 < len(clauses) and _is_question(clauses[i + 1].text):
            nxt = clauses[i + 1]
            glue = text[clause.end : nxt.start]
            opening = glue + " " + " ".join(nxt.text.split()[:2])
            # background ends its own sentence; "..., and is X down?" coordinates two asks
            if re.search(r"[.!:]", body[-1:] + glue) and not _TOPIC_SHIFT.search(opening):
                context.add(i)
    return context


@dataclass(frozen=True)
class Clause:
    """A piece of the request, as a span of the original text."""

    start: int
    end: int
    text: str

    @property
    def words(self) -> int:
        return len(_WORD.findall(self.text))


def split_clauses(text: str, max_clauses: int = MAX_CLAUSES) -> list[Clause]:
    """The request's clauses, in order; fewer than two means there is nothing to split."""
    cuts = [(m.start(), m.end()) for m in _BOUNDARY.finditer(text)]
    cuts.extend(_inline_list_cuts(text))
    cuts.sort()
    clauses: list[Clause] = []
    position = 0
    for start, end in [*cuts, (len(text), len(text))]:
        if start < position:
            continue
        clause = _clause(text, position, start)
        if clause is not None:
            clauses.append(clause)
        position = end
    if len(clauses) > max_clauses:
        last = clauses[max_clauses - 1]
        tail = Clause(last.start, clauses[-1].end, text[last.start : clauses[-1].end])
        clauses = [*clauses[: max_clauses - 1], tail]
    return clauses


def _inline_list_cuts(text: str) -> list[tuple[int, int]]:
    """Cuts before "1." "2." ... on one line, only when they count up from 1."""
    marks = list(_INLINE_NUMBER.finditer(text))
    run: list[re.Match[str]] = []
    for m in marks:
        if int(m.group(1)) == len(run) + 1:
            run.append(m)
    if len(run) < 2:
        return []
    return [(m.start(), m.end()) for m in run]


def _clause(text: str, start: int, end: int) -> Clause | None:
    piece = text[start:end]
    stripped = piece.strip()
    lead = _LEADING.match(stripped)
    if lead:
        stripped = stripped[lead.end() :]
    stripped = stripped.strip(" ,;:")
    if not _WORD.search(stripped):
        return None
    first = text.index(stripped, start)
    return Clause(first, first + len(stripped), stripped)


@dataclass(eq=False)
class _Group:
    agent: str | None
    clauses: list[Clause]
    confidences: list[float]


class CompoundPlanner:
    """Decides whether a request is compound and, if so, which part goes to which agent."""

    def __init__(
        self, router: Router, *, max_parts: int = DEFAULT_MAX_PARTS, min_words: int = MIN_WORDS
    ) -> None:
        """``max_parts`` < 2 turns compound requests off."""
        self._router = router
        self._max_parts = max_parts
        self._min_words = min_words

    @property
    def enabled(self) -> bool:
        return self._max_parts >= 2

    async def plan(self, text: str, query: Vector | None = None) -> RouteResult | None:
        """A ``compound`` decision with one ``SubRoute`` per part, or None for a normal
        request. ``query`` is the whole text's embedding (kept on the decision)."""
        if not self.enabled or not self._router.ready:
            return None
        clauses = split_clauses(text)
        if len(clauses) < 2:
            return None
        vectors = await self._router.embed_many([c.text for c in clauses])
        decisions = [
            await self._router.route(c.text, query=v, use_llm=False)
            for c, v in zip(clauses, vectors, strict=True)
        ]
        groups = self._group(text, clauses, decisions)
        if len(groups) < 2:
            return None
        best_first = sorted(groups, key=lambda g: -min(g.confidences))
        kept = [g for g in groups if g in best_first[: self._max_parts]]
        dropped = [g.agent for g in groups if g not in kept]
        parts = await self._with_vectors(
            [self._part(text, g) for g in kept],
            {c.text: v for c, v in zip(clauses, vectors, strict=True)},
        )
        reason = "compound request: " + "; ".join(
            f"{p.agent} ({p.confidence:.2f}) for {p.text!r}" for p in parts
        )
        if dropped:
            reason += (
                f" (at most {self._max_parts} parts; not asked: {', '.join(map(str, dropped))})"
            )
        return RouteResult(
            None,
            min(p.confidence for p in parts),
            Method.COMPOUND,
            [Candidate(p.agent, round(p.confidence, 4)) for p in parts],
            reason,
            query,
            parts=parts,
        )

    async def _with_vectors(
        self, parts: list[SubRoute], known: dict[str, Vector]
    ) -> list[SubRoute]:
        """Each part with its own query embedding (one more embedder call for parts that
        join several clauses)."""
        missing = [p.text for p in parts if p.text not in known]
        if missing:
            known = {
                **known,
                **dict(zip(missing, await self._router.embed_many(missing), strict=True)),
            }
        return [SubRoute(p.text, p.agent, p.confidence, known[p.text]) for p in parts]

    def _group(
        self, text: str, clauses: list[Clause], decisions: list[RouteResult]
    ) -> list[_Group]:
        """Clauses joined by agent; unsure clauses stay with the clause before them."""
        runs: list[_Group] = []
        pending: list[Clause] = []
        background = context_clauses(text, clauses)
        for index, (clause, d) in enumerate(zip(clauses, decisions, strict=True)):
            sure = (
                d.agent is not None
                and d.method in (Method.RULE, Method.EMBEDDING)
                and clause.words >= self._min_words
                and index not in background
            )
            if not sure:
                if runs:
                    runs[-1].clauses.append(clause)
                else:
                    pending.append(clause)
                continue
            if runs and runs[-1].agent == d.agent:
                runs[-1].clauses.append(clause)
                runs[-1].confidences.append(d.confidence)
            else:
                runs.append(_Group(d.agent, [*pending, clause], [d.confidence]))
                pending = []
        by_agent: dict[str | None, _Group] = {}
        for run in runs:
            if run.agent in by_agent:
                by_agent[run.agent].clauses.extend(run.clauses)
                by_agent[run.agent].confidences.extend(run.confidences)
            else:
                by_agent[run.agent] = run
        return list(by_agent.values())

    @staticmethod
    def _part(text: str, group: _Group) -> SubRoute:
        """The part's text: the original wording of its clauses (contiguous ones as one span)."""
        spans: list[tuple[int, int]] = []
        for c in sorted(group.clauses, key=lambda c: c.start):
            if spans and _only_glue(text[spans[-1][1] : c.start]):
                spans[-1] = (spans[-1][0], c.end)
            else:
                spans.append((c.start, c.end))
        joined = " ".join(text[a:b] for a, b in spans)
        assert group.agent is not None
        return SubRoute(joined, group.agent, min(group.confidences))


def _only_glue(between: str) -> bool:
    """True when the text between two clauses holds no other clause (punctuation, "and")."""
    return _GLUE.fullmatch(between) is not None
