"""Routing thresholds fitted on the deployment's own cards when the router's index is built.

The shipped thresholds (accept at calibrated confidence 0.7, too vague below similarity 0.3)
were chosen on CLINC150 and the demo cards; on another deployment's cards they abstain too
often or too rarely. Every card's examples are already scored out of fold when the index is
built (``ScoringModel.out_of_fold``: five folds, at most ``CV_MAX_ROWS`` rows, the cost of the
temperature fit), so the same held-out decisions also give:

* ``route_accept_confidence``: the lowest confidence whose accepted held-out decisions are at
  least ``target_accuracy`` right (:func:`~.calibration.accept_threshold`, the rule
  ``switchboard eval routing --write-config`` applies to labelled data); raised from the
  configured value, never lowered: a card author's own examples are cleaner than real
  requests, so cards on which every decision looks right (the demo's: 89 of 90 held-out
  examples) are no evidence that a bolder router would be; when no cut-off reaches the
  target, the highest confidence seen;
* ``route_min_similarity``: lowered from the configured value (never raised: cards hold no
  out-of-scope examples to justify a stricter cut) when more than ``VAGUE_ALLOWANCE`` of the
  deployment's own example requests would fall below it and be called too vague;
  ``route_out_of_scope_similarity`` is kept at or below it.

Thresholds set explicitly (environment, or a calibration file) are never replaced. With too
few examples to judge (``min_examples``) the configured values stay. Deterministic: the
folds use a fixed seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from switchboard.supervisor.routing.calibration import RoutingCalibration, accept_threshold
from switchboard.supervisor.routing.scoring import ScoringModel
from switchboard.supervisor.settings import SupervisorSettings

log = logging.getLogger(__name__)

MAX_ACCEPT = 0.99  # some decisions are always left to the router alone
VAGUE_ALLOWANCE = 0.02  # share of the cards' own examples that may be called too vague
SIMILARITY_MARGIN = 0.02

THRESHOLD_FIELDS = (
    "route_accept_confidence",
    "route_min_similarity",
    "route_out_of_scope_similarity",
)


@dataclass(frozen=True)
class Thresholds:
    accept_confidence: float
    min_similarity: float
    out_of_scope_similarity: float


@dataclass(frozen=True)
class SelfCalibration:
    """How to fit thresholds on the cards, and which configured values must stay."""

    configured: Thresholds
    target_accuracy: float = 0.95
    min_examples: int = 20
    pinned: frozenset[str] = field(default_factory=frozenset)

    def fit(self, model: ScoringModel | None) -> RoutingCalibration | None:
        """The thresholds for this index; None when its cards have too few examples."""
        held = model.held_out if model is not None else None
        if model is None or held is None or len(held.truth) < self.min_examples:
            n = 0 if held is None else len(held.truth)
            log.info(
                "routing thresholds not fitted on the cards: too few examples",
                extra={"examples": n, "needed": self.min_examples},
            )
            return None
        probs = ScoringModel.softmax_scores(held.scores, model.temperature)
        pred = probs.argmax(axis=1)
        confidence = probs.max(axis=1)
        correct = pred == held.truth
        fitted, coverage, accepted = accept_threshold(correct, confidence, self.target_accuracy)
        if np.isnan(accepted):  # no cut-off reaches the target: only the surest
            fitted = float(confidence.max(initial=self.configured.accept_confidence))
        accept = min(max(fitted, self.configured.accept_confidence), MAX_ACCEPT)
        similarity = held.similarity[correct] if correct.any() else held.similarity
        floor = float(np.quantile(similarity, VAGUE_ALLOWANCE)) - SIMILARITY_MARGIN
        min_sim = min(self.configured.min_similarity, floor)
        oos = min(self.configured.out_of_scope_similarity, min_sim)
        taken = (confidence >= accept) & (held.similarity >= min_sim)
        values = {
            "route_accept_confidence": round(float(accept), 4),
            "route_min_similarity": round(float(min_sim), 4),
            "route_out_of_scope_similarity": round(float(oos), 4),
        }
        configured = {
            "route_accept_confidence": self.configured.accept_confidence,
            "route_min_similarity": self.configured.min_similarity,
            "route_out_of_scope_similarity": self.configured.out_of_scope_similarity,
        }
        values.update({k: configured[k] for k in self.pinned & set(values)})
        return RoutingCalibration(
            **values,
            fitted_on={
                "source": "cards (out-of-fold)",
                "examples": len(held.truth),
                "target_accuracy": self.target_accuracy,
                "accuracy": round(float(correct.mean()), 4),
                "coverage": round(float(taken.mean()), 4),
                "accepted_accuracy": round(float(correct[taken].mean()), 4) if taken.any() else 0.0,
                "kept_as_configured": sorted(self.pinned & set(values)),
                "coverage_at_target_before_floor": round(coverage, 4),
            },
        )

    def thresholds(
        self, model: ScoringModel | None
    ) -> tuple[Thresholds, RoutingCalibration | None]:
        """The thresholds to route with: fitted on the cards, else as configured."""
        fitted = self.fit(model)
        if fitted is None:
            return self.configured, None
        return (
            Thresholds(
                fitted.route_accept_confidence,
                fitted.route_min_similarity,
                fitted.route_out_of_scope_similarity,
            ),
            fitted,
        )


def self_calibration(settings: SupervisorSettings) -> SelfCalibration | None:
    """The self-calibration the settings ask for (None: keep the configured thresholds).

    Thresholds set explicitly, in the environment or by ``SWITCHBOARD_ROUTING_CALIBRATION``,
    are pinned."""
    if not settings.route_self_calibration:
        return None
    return SelfCalibration(
        Thresholds(
            settings.route_accept_confidence,
            settings.route_min_similarity,
            settings.route_out_of_scope_similarity,
        ),
        target_accuracy=settings.route_self_calibration_target,
        pinned=frozenset(settings.model_fields_set & set(THRESHOLD_FIELDS)),
    )
