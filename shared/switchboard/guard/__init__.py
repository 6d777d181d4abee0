"""Prompt-injection guard: phrase rules plus a classifier over MiniLM embeddings and n-grams.

Screen the caller's text with ``screen_user`` and passages or tool outputs with
``screen_retrieved`` / ``screen_tool_output`` (indirect injection). See ``detector.py``.
"""

from switchboard.guard.detector import (
    Guard,
    GuardSettings,
    Source,
    Verdict,
    load_guard,
    train_classifier,
)

__all__ = [
    "Guard",
    "GuardSettings",
    "Source",
    "Verdict",
    "load_guard",
    "train_classifier",
]
