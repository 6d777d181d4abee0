"""Prompt-injection screening of the caller's text, before any agent sees it.

The guard (``switchboard.guard``) combines rules with a classifier trained on labelled
examples. Text it blocks is refused (status REFUSED, audited); text that scores in a
borderline band, or that disguised part of itself (base64, spaced or look-alike letters)
however harmless what it hid, is let through but marked ``suspicious``, and the agent then
answers under a guard prompt. The routing embedding is reused, so screening costs no second
embedding.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from switchboard.core.embeddings import Vector
from switchboard.core.telemetry import tracer
from switchboard.guard import Guard, Verdict


@dataclass(frozen=True)
class Screening:
    blocked: bool
    suspicious: bool
    score: float
    reason: str


PASSED = Screening(False, False, 0.0, "")


class Screener(Protocol):
    async def screen(self, text: str, vector: Vector | None) -> Screening: ...


class NoScreening:
    """Screening switched off (``SWITCHBOARD_GUARD_ENABLED=false``)."""

    async def screen(self, text: str, vector: Vector | None) -> Screening:
        return PASSED


class GuardScreener:
    """Screens with a :class:`Guard`; ``suspicious_fraction`` of its threshold marks the band."""

    def __init__(self, guard: Guard, *, suspicious_fraction: float = 0.5) -> None:
        self._guard = guard
        self._suspicious_at = guard.classifier.user_threshold * suspicious_fraction

    async def screen(self, text: str, vector: Vector | None) -> Screening:
        verdict = await asyncio.to_thread(self._guard.screen_user, text, vector)
        return screening_of(verdict, self._suspicious_at)


def screening_of(verdict: Verdict, suspicious_at: float) -> Screening:
    """What the supervisor does with a guard verdict: refuse, let through with care (a score
    of at least ``suspicious_at``, or disguised text), or let through."""
    if verdict.blocked:
        return Screening(True, False, verdict.score, verdict.reason)
    if verdict.score >= suspicious_at:
        return Screening(False, True, verdict.score, f"classifier:{verdict.score:.2f} (borderline)")
    if verdict.hidden:
        return Screening(False, True, verdict.score, "disguised text (borderline)")
    return Screening(False, False, verdict.score, "")


async def screen_traced(screener: Screener, text: str, vector: Vector | None) -> Screening:
    """Screens in a ``screen_input`` span carrying the verdict."""
    with tracer().start_as_current_span("screen_input") as span:
        screening = await screener.screen(text, vector)
        span.set_attributes(
            {
                "switchboard.guard.blocked": screening.blocked,
                "switchboard.guard.suspicious": screening.suspicious,
                "switchboard.guard.score": round(screening.score, 4),
                "switchboard.guard.reason": screening.reason,
            }
        )
        return screening
