"""The offline path: quote the retrieved sentences that best answer the question.

Used without an API key, while the LLM breaker is open, and when the LLM failed. The answer
is marked DEGRADED, ``mode: offline-extractive``, and says plainly that it is a quote. Its
confidence is the calibrated probability that it answers the question (``confidence``);
below ``min_confidence`` the request is escalated to a person instead of sending a quote
that probably does not answer it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from switchboard.agent.answering import answers
from switchboard.agent.answering.answers import Tally
from switchboard.agent.answering.confidence import FITTED, Calibration
from switchboard.agent.answering.extractive import choose, sentence_set
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
    floor: float  # the retrieval min_score
    min_confidence: float = 0.0  # a quote less likely than this to answer escalates
    calibration: Calibration = FITTED
    _warned: bool = field(default=False, init=False)

    async def answer(
        self,
        ctx: RequestContext,
        text: str,
        query: Vector,
        hits: list[Hit],
        tally: Tally,
        standalone: tuple[str, Vector] | None = None,
    ) -> AgentAnswer:
        """The quote that answers ``text``. For a follow-up, ``standalone`` is the turn
        completed from the conversation (``memory/followup.py``) with its vector: when the
        turn's own words are too few to pick a confident quote ("and after two weeks?"), the
        quote is chosen for the standalone question instead, if that is more likely right."""
        ctx.deadline.check("the offline answer")
        with tracer().start_as_current_span(
            "extract_answer", attributes={"switchboard.mode": AnswerMode.OFFLINE.value}
        ):
            quoted = hits
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
            extract = choose(text, query, hits, sets)
            likely = self.calibration.probability(extract) if extract is not None else 0.0
            if standalone is not None and likely < self.min_confidence:
                other = choose(standalone[0], standalone[1], hits, sets)
                if other is not None and self.calibration.probability(other) > likely:
                    extract, likely = other, self.calibration.probability(other)
        if extract is None:
            title = hits[0].metadata.get("title")
            answer = f"Offline answer (no LLM was used): see {title} [1]."
            return answers.quoted(self.agent, answer, [1], hits, self.floor, tally)
        if likely < self.min_confidence:
            log.info(
                "escalating: the offline answer is unlikely to answer the question",
                extra={"confidence": round(likely, 3), "kind": extract.kind.value},
            )
            return answers.escalated(self.agent, hits, self.floor)
        return answers.quoted(
            self.agent, extract.text, extract.used, hits, self.floor, tally, round(likely, 4)
        )
