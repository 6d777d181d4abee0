"""The offline path: quote the retrieved sentences that best answer the question.

Used without an API key, while the LLM breaker is open, and when the LLM failed. The answer
is marked DEGRADED, ``mode: offline-extractive``, and says plainly that it is a quote.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from switchboard.agent.answering import answers
from switchboard.agent.answering.answers import Tally
from switchboard.agent.answering.extractive import extract_answer
from switchboard.agent.knowledge.store import Hit
from switchboard.core.context import RequestContext
from switchboard.core.embeddings import Embedder, Vector
from switchboard.core.telemetry import tracer
from switchboard.core.types import AgentAnswer, AnswerMode


@dataclass
class OfflineAnswerer:
    agent: str
    embedder: Embedder
    floor: float  # the retrieval min_score: confidence is measured from it

    async def answer(
        self, ctx: RequestContext, text: str, query: Vector, hits: list[Hit], tally: Tally
    ) -> AgentAnswer:
        ctx.deadline.check("the offline answer")
        with tracer().start_as_current_span(
            "extract_answer", attributes={"switchboard.mode": AnswerMode.OFFLINE.value}
        ):
            answer, used = await asyncio.to_thread(
                extract_answer, text, query, hits, self.embedder, deadline=ctx.deadline
            )
        if not answer:
            used = [1]
            answer = f"Offline answer (no LLM was used): see {hits[0].metadata.get('title')} [1]."
        return answers.quoted(self.agent, answer, used, hits, self.floor, tally)
