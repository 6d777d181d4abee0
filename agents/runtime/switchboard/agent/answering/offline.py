"""The offline path: quote the retrieved sentences that best answer the question.

Used without an API key, while the LLM breaker is open, and when the LLM failed. The answer
is marked DEGRADED, ``mode: offline-extractive``, and says plainly that it is a quote.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from switchboard.agent.answering import answers
from switchboard.agent.answering.answers import Tally
from switchboard.agent.answering.extractive import extract_answer, sentence_set
from switchboard.agent.knowledge.store import Hit
from switchboard.core.context import RequestContext
from switchboard.core.embeddings import Embedder, Vector
from switchboard.core.telemetry import tracer
from switchboard.core.types import AgentAnswer, AnswerMode

log = logging.getLogger(__name__)


@dataclass
class OfflineAnswerer:
    agent: str
    embedder: Embedder
    floor: float  # the retrieval min_score: confidence is measured from it
    _warned: bool = field(default=False, init=False)

    async def answer(
        self, ctx: RequestContext, text: str, query: Vector, hits: list[Hit], tally: Tally
    ) -> AgentAnswer:
        ctx.deadline.check("the offline answer")
        with tracer().start_as_current_span(
            "extract_answer", attributes={"switchboard.mode": AnswerMode.OFFLINE.value}
        ):
            quoted = hits[:3]
            sets = [h.sentences for h in quoted if h.sentences is not None]
            if len(sets) < len(quoted):  # ingested before sentences were stored
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "knowledge store lacks stored sentences: offline answers embed them "
                        "per request; run 'switchboard ingest' to store them",
                        extra={"agent": self.agent},
                    )
                sets = await asyncio.to_thread(
                    lambda: [sentence_set(h, self.embedder) for h in quoted]
                )
                ctx.deadline.check("the offline answer was put together")
            # Stored sentences: one small matrix product, cheaper than a thread hop.
            answer, used = extract_answer(text, query, hits, sets)
        if not answer:
            used = [1]
            answer = f"Offline answer (no LLM was used): see {hits[0].metadata.get('title')} [1]."
        return answers.quoted(self.agent, answer, used, hits, self.floor, tally)
