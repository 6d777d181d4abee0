"""The prompt-injection guard: phrase rules plus the embedding/n-gram classifier.

Entry points:
- ``screen_user(text, vector=None)``: the caller's request (direct injection);
- ``screen_retrieved(text, vector=None)`` and ``screen_tool_output(text, vector=None)``:
  passages and tool results about to enter a prompt (indirect injection). These use the
  ``indirect`` rule set (instructions addressed to an AI inside data) and a higher threshold,
  because reference documents are longer and further from the training examples.

Each screening costs one embedding (~2-5 ms), or none when the caller passes the vector it
already has (the supervisor embeds every request once for routing), plus well under a
millisecond of n-gram hashing and regexes. Blocking decisions never depend on the order or
number of earlier calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.core.embeddings import Embedder, Matrix, Vector
from switchboard.guard.classifier import GuardClassifier, TrainingConfig
from switchboard.guard.deobfuscate import reveal, views
from switchboard.guard.examples import (
    Example,
    examples_hash,
    extra_example_paths,
    training_examples,
)
from switchboard.guard.rules import Scope, match_rules

log = logging.getLogger(__name__)

Source = Literal["user", "retrieved", "tool"]
RULE_SCORE = 1.0
MAX_SCREEN_CHARS = 8000
# An instruction needs a few words; a one- or two-word request ("refund") is left to the
# rules, because the n-gram classifier has too little to go on and misfires on such text.
MIN_CLASSIFIED_WORDS = 3


@dataclass(frozen=True)
class Verdict:
    """The outcome of one screening. ``reason`` names the rule or the classifier score;
    ``hidden``: the text disguised part of itself (an encoding, spaced letters, look-alike
    letters) and was judged on what it hid. Customers do not write that way, so a caller
    may treat such a text with care even when what it hid is harmless."""

    blocked: bool
    score: float
    reason: str
    source: Source
    hidden: bool = False


class GuardSettings(BaseSettings):
    """``SWITCHBOARD_GUARD_*`` variables; the cache defaults to ``<data dir>/guard``."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_GUARD_", extra="ignore")

    enabled: bool = Field(True, description="Screen requests and passages at all.")
    examples: str = Field("", description="Extra labelled JSON-lines files, comma-separated.")
    target_fpr: float = Field(
        0.02, ge=0, le=1, description="Benign false-positive rate the user threshold aims for."
    )
    indirect_target_fpr: float = Field(
        0.0, ge=0, le=1, description="The same for retrieved passages and tool outputs."
    )
    cache_dir: Path | None = Field(None, description="Trained weights; default <data_dir>/guard.")
    suspicious_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Text scoring above this fraction of the guard's threshold (but below it) "
        "is answered under the agent's guard prompt.",
    )

    def resolved_cache_dir(self, data_dir: Path) -> Path:
        return self.cache_dir or data_dir / "guard"


class Guard:
    def __init__(self, classifier: GuardClassifier, embedder: Embedder) -> None:
        self.classifier = classifier
        self._embedder = embedder

    # --- public entry points -----------------------------------------------------------------

    def screen_user(self, text: str, vector: Vector | None = None) -> Verdict:
        return self.screen(text, "user", vector)

    def screen_retrieved(self, text: str, vector: Vector | None = None) -> Verdict:
        return self.screen(text, "retrieved", vector)

    def screen_tool_output(self, text: str, vector: Vector | None = None) -> Verdict:
        return self.screen(text, "tool", vector)

    async def ascreen_user(self, text: str, vector: Vector | None = None) -> Verdict:
        """``screen_user`` off the event loop (the embedding is CPU-bound)."""
        return await asyncio.to_thread(self.screen, text, "user", vector)

    async def ascreen_passages(
        self, texts: Sequence[str], source: Source = "retrieved", vectors: Matrix | None = None
    ) -> list[Verdict]:
        return await asyncio.to_thread(self.screen_many, texts, source, vectors)

    def screen(self, text: str, source: Source, vector: Vector | None = None) -> Verdict:
        text = text[:MAX_SCREEN_CHARS]
        if vector is None:
            vector = self._embedder.embed([text])[0]
        else:
            self._check_vector(vector)
        verdict = self._verdict(text, source, self.classifier.score_one(text, vector))
        return self._revealed([text], source, [verdict])[0]

    def screen_many(
        self, texts: Sequence[str], source: Source = "retrieved", vectors: Matrix | None = None
    ) -> list[Verdict]:
        """Screens several passages with one batched embedding (or the given vectors)."""
        if not texts:
            return []
        clipped = [t[:MAX_SCREEN_CHARS] for t in texts]
        if vectors is None:
            vectors = self._embedder.embed(clipped)
        elif vectors.shape[0] != len(clipped):
            raise ValueError("one vector per text is needed")
        scores = self.classifier.scores(clipped, vectors)
        verdicts = [
            self._verdict(t, source, float(s)) for t, s in zip(clipped, scores, strict=True)
        ]
        return self._revealed(clipped, source, verdicts)

    # --- internals ---------------------------------------------------------------------------

    def _revealed(
        self, texts: Sequence[str], source: Source, verdicts: list[Verdict]
    ) -> list[Verdict]:
        """Texts that hid something (spaced letters, homoglyphs, base64...; ``deobfuscate.py``)
        are judged on what they hid: the rules on the revealed text too, the classifier on
        each view (the revealed text, or each decoded payload; a base64 blob is noise to it),
        the highest-scoring view deciding. The wrapper around an encoded payload is judged
        apart and counts only if it is blocked on its own (``deobfuscate.py`` says why). One
        more embedding per hiding text, batched."""
        hidden = [
            (i, reveal(t) or t, views(t))
            for i, (t, v) in enumerate(zip(texts, verdicts, strict=True))
            if not v.reason.startswith("rule:")
        ]
        hidden = [(i, shown, seen) for i, shown, seen in hidden if seen]
        if not hidden:
            return verdicts
        flat = [
            view[:MAX_SCREEN_CHARS]
            for _, _, seen in hidden
            for view in [*([seen.wrapper] if seen.wrapper else []), *seen.revealed]
        ]
        scores = iter(self.classifier.scores(flat, self._embedder.embed(flat)))
        out = list(verdicts)
        for i, shown, seen in hidden:
            wrapper = (
                self._verdict(seen.wrapper, source, float(next(scores))) if seen.wrapper else None
            )
            judged = [self._verdict(view, source, float(next(scores))) for view in seen.revealed]
            if wrapper is not None and wrapper.blocked:
                judged.append(wrapper)
            hits = match_rules(shown[:MAX_SCREEN_CHARS], "user" if source == "user" else "indirect")
            if hits:
                judged.append(Verdict(True, RULE_SCORE, f"rule:{hits[0].rule}", source))
            again = max(judged, key=lambda v: (v.blocked, v.score))
            reason = f"{again.reason} (deobfuscated)" if again.blocked else ""
            out[i] = Verdict(again.blocked, again.score, reason, source, hidden=True)
        return out

    def _check_vector(self, vector: Vector) -> None:
        if vector.ndim != 1 or vector.shape[0] != self._embedder.dimension:
            raise ValueError(
                f"precomputed vector has shape {vector.shape}, "
                f"expected ({self._embedder.dimension},)"
            )

    def _verdict(self, text: str, source: Source, score: float) -> Verdict:
        scope: Scope = "user" if source == "user" else "indirect"
        hits = match_rules(text, scope)
        if hits:
            return Verdict(True, max(score, RULE_SCORE), f"rule:{hits[0].rule}", source)
        threshold = (
            self.classifier.user_threshold
            if scope == "user"
            else self.classifier.indirect_threshold
        )
        if score >= threshold and len(text.split()) >= MIN_CLASSIFIED_WORDS:
            return Verdict(True, score, f"classifier:{score:.2f}>={threshold:.2f}", source)
        return Verdict(False, score, "", source)


def train_classifier(
    examples: Sequence[Example],
    embedder: Embedder,
    *,
    target_fpr: float = 0.02,
    indirect_target_fpr: float = 0.0,
    config: TrainingConfig | None = None,
    cache_dir: Path | None = None,
) -> GuardClassifier:
    """Trains on ``examples``, or loads the weights cached under their hash."""
    config = config or TrainingConfig()
    key = examples_hash(
        examples, embedder.model_id, config.key(), f"{target_fpr}:{indirect_target_fpr}"
    )
    path = cache_dir / f"classifier-{key[:32]}.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        cached = GuardClassifier.load(path, config)
        if cached is not None:
            return cached
    t0 = time.perf_counter()
    texts = [e.text for e in examples]
    vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dimension), np.float32)
    classifier = GuardClassifier.fit(
        texts,
        [e.label for e in examples],
        vectors,
        sources=[e.source for e in examples],
        target_fpr=target_fpr,
        indirect_target_fpr=indirect_target_fpr,
        config=config,
    )
    log.info(
        "guard classifier trained",
        extra={
            "examples": len(examples),
            "seconds": round(time.perf_counter() - t0, 2),
            "user_threshold": round(classifier.user_threshold, 4),
            "indirect_threshold": round(classifier.indirect_threshold, 4),
        },
    )
    if path is not None:
        try:
            classifier.save(path)
        except OSError as exc:  # a read-only filesystem only costs the next start a retrain
            log.warning("guard cache not written", extra={"error": str(exc)})
    return classifier


def load_guard(settings: GuardSettings, embedder: Embedder, *, data_dir: Path) -> Guard:
    """A guard trained on the shipped examples plus ``SWITCHBOARD_GUARD_EXAMPLES`` (cached
    under the data dir, so later starts take milliseconds)."""
    examples = training_examples(extra_example_paths(settings.examples))
    classifier = train_classifier(
        examples,
        embedder,
        target_fpr=settings.target_fpr,
        indirect_target_fpr=settings.indirect_target_fpr,
        cache_dir=settings.resolved_cache_dir(data_dir),
    )
    return Guard(classifier, embedder)
