"""Long-term memory: facts an end user states about themselves, recalled in later
conversations when relevant (docs/memory.md).

Offline extraction is a conservative pattern set (with an API key a cheap model reads the
turn as well, ``fact_extraction.py``, and what it finds joins the patterns' facts): a
sentence is kept only when it matches one of a few shapes of self-description ("we're on
the annual Pro plan", "our workspace is acme-eu", "I use the iOS app", "we pay by SEPA",
"we're based in Germany"); questions never are. The end user is the caller's ``user_id``
metadata (set by the authenticated caller, never by the model), and facts live per tenant
and user with an expiry and their source turn. A later request recalls the user's facts
whose embedding is close enough to the request's (``min_similarity``), at most ``k``.
Reads and writes are deadline-bounded; a failure is logged and never fails the request.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

import numpy as np

from switchboard.core.context import RequestContext
from switchboard.core.embeddings import Vector
from switchboard.core.errors import SwitchboardError
from switchboard.store.errors import StoreError
from switchboard.store.user_memories import UserMemories
from switchboard.supervisor.memory.fact_extraction import ClaudeFactExtractor
from switchboard.supervisor.memory.summary import sentences

log = logging.getLogger(__name__)

_SELF = r"(?:we(?:'re| are)|i(?:'m| am)|our (?:team|company) is)"
PATTERNS = [
    re.compile(rf"\b{_SELF} (?:on|using) (?:the |a |an )?[\w -]{{2,40}}? plan\b", re.I),
    re.compile(r"\bour workspace (?:is|is called|url is|name is) [\w.-]{2,60}", re.I),
    re.compile(r"\b(?:i|we) (?:use|work in|work on) (?:the )?[\w -]{2,30}? app\b", re.I),
    re.compile(r"\bwe pay (?:by|with|via|in) [\w -]{2,30}", re.I),
    re.compile(rf"\b{_SELF} (?:based|located) in [A-Z][\w -]{{1,40}}", re.I),
    re.compile(rf"\b{_SELF} a (?:nonprofit|charity|school|university|startup)\b", re.I),
]
MAX_FACTS_PER_TURN = 3


def extract_facts(text: str) -> list[str]:
    """The sentences of ``text`` in which the customer describes themselves (see above)."""
    out: list[str] = []
    for sentence in sentences(text):
        if sentence.endswith("?") or len(sentence) > 200:
            continue
        if any(p.search(sentence) for p in PATTERNS):
            out.append(sentence.rstrip(".!") + ".")
    return out[:MAX_FACTS_PER_TURN]


class LongTermMemory:
    def __init__(
        self,
        store: UserMemories,
        embed: Callable[[str], Awaitable[Vector]],
        *,
        ttl_s: float,
        k: int = 3,
        min_similarity: float = 0.2,
        timeout_s: float = 0.3,
        on_failure: Callable[[str, BaseException], None] | None = None,
        extractor: ClaudeFactExtractor | None = None,
        extract_timeout_s: float = 3.0,
    ) -> None:
        self._store = store
        self._extractor = extractor
        self._extract_timeout = extract_timeout_s
        self._embed = embed
        self._ttl = ttl_s
        self._k = k
        self._min = min_similarity
        self._timeout = timeout_s
        self._on_failure = on_failure or (lambda op, exc: None)

    async def recall(self, ctx: RequestContext, query: Vector | None) -> list[str]:
        """The user's facts relevant to this request, most similar first."""
        if not ctx.user_id or query is None:
            return []
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._store.recall(ctx.tenant, ctx.user_id)
        except (StoreError, TimeoutError) as exc:
            self._on_failure("recall", exc)
            return []
        scored = []
        q = np.asarray(query, dtype=np.float32)
        for memory in found:
            if not memory.vector or len(memory.vector) != q.nbytes:
                continue
            score = float(np.frombuffer(memory.vector, dtype=np.float32) @ q)
            if score >= self._min:
                scored.append((score, memory.fact))
        scored.sort(reverse=True)
        return [fact for _, fact in scored[: self._k]]

    async def _with_model(self, text: str, facts: list[str]) -> list[str]:
        """The patterns' facts and the model's, deduplicated; the patterns' alone when the
        model fails (logged)."""
        assert self._extractor is not None
        try:
            found = await self._extractor.extract(text, timeout=self._extract_timeout)
        except (SwitchboardError, TimeoutError) as exc:
            log.warning("fact extraction call failed; patterns only", extra={"error": str(exc)})
            return facts
        seen = {f.lower() for f in facts}
        merged = [*facts, *(f for f in found if f.lower() not in seen)]
        return merged[:MAX_FACTS_PER_TURN]

    async def observe(self, ctx: RequestContext, text: str, request_id: str) -> int:
        """Stores the facts the user stated in ``text``; returns how many."""
        if not ctx.user_id:
            return 0
        facts = extract_facts(text)
        if self._extractor is not None:
            facts = await self._with_model(text, facts)
        if not facts:
            return 0
        try:
            async with asyncio.timeout(self._timeout + 1.0):  # embedding a sentence or two
                vectors = [await self._embed(f) for f in facts]
                await self._store.remember(
                    ctx.tenant,
                    ctx.user_id,
                    [
                        (f, np.asarray(v, dtype=np.float32).tobytes())
                        for f, v in zip(facts, vectors, strict=True)
                    ],
                    session_id=ctx.session_id,
                    request_id=request_id,
                    ttl_s=self._ttl,
                )
        except (StoreError, TimeoutError) as exc:
            self._on_failure("remember", exc)
            return 0
        return len(facts)
