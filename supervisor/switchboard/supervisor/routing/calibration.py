"""Routing thresholds fitted from labelled examples, and the file that carries them.

``switchboard eval routing --data FILE --write-config OUT`` scores labelled requests with the
router, then fits:

* ``route_accept_confidence``: the lowest calibrated confidence at which the decisions the
  router takes on its own are at least ``target_accuracy`` right;
* ``route_out_of_scope_similarity`` (and ``route_min_similarity``): the similarity below which
  a request is out of scope: the highest cut-off that loses at most ``max_in_scope_loss`` of
  in-scope accuracy (only when the data has out-of-scope examples, i.e. an empty ``agent``);
* ``route_temperature``: the softmax temperature that best fits the labelled examples
  (temperature scaling on data the cards never saw).

The supervisor reads the file named by ``SWITCHBOARD_ROUTING_CALIBRATION``; variables set
explicitly in the environment still win.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.core.errors import ConfigurationError
from switchboard.supervisor.routing.scoring import fit_temperature


class RoutingCalibration(BaseModel):
    """The fitted thresholds (names match ``SupervisorSettings`` fields)."""

    model_config = ConfigDict(extra="ignore")

    route_accept_confidence: float = Field(ge=0, le=1)
    route_min_similarity: float = Field(ge=-1, le=1)
    route_out_of_scope_similarity: float = Field(ge=-1, le=1)
    route_temperature: float | None = Field(None, gt=0)
    fitted_on: dict[str, Any] = Field(default_factory=dict)

    def settings_values(self) -> dict[str, float]:
        values = {
            "route_accept_confidence": self.route_accept_confidence,
            "route_min_similarity": self.route_min_similarity,
            "route_out_of_scope_similarity": self.route_out_of_scope_similarity,
        }
        if self.route_temperature is not None:
            values["route_temperature"] = self.route_temperature
        return values

    @classmethod
    def load(cls, path: Path) -> RoutingCalibration:
        try:
            text = path.read_text(encoding="utf-8")
            raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
            return cls.model_validate(raw)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            if isinstance(exc, ValidationError):
                raise ConfigurationError(f"invalid routing calibration {path}:\n{exc}") from exc
            raise ConfigurationError(f"cannot read routing calibration {path}: {exc}") from exc

    def save(self, path: Path) -> None:
        data = self.model_dump()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        else:
            header = "# Routing thresholds fitted by `switchboard eval routing`.\n"
            path.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@dataclass
class Scored:
    """The router's view of labelled requests (``truth`` is None for out of scope)."""

    truth: list[str | None]
    pred: list[str]
    confidence: np.ndarray  # calibrated confidence of ``pred``
    similarity: np.ndarray  # top similarity (mean cosine of the best agent's 3 nearest texts)
    scores: np.ndarray  # (n, agents) raw scores, for temperature scaling
    agents: list[str]

    @property
    def in_scope(self) -> np.ndarray:
        return np.array([t is not None for t in self.truth], dtype=bool)

    @property
    def correct(self) -> np.ndarray:
        return np.array([t == p for t, p in zip(self.truth, self.pred, strict=True)], dtype=bool)


def accept_threshold(
    correct: np.ndarray, confidence: np.ndarray, target_accuracy: float
) -> tuple[float, float, float]:
    """The lowest threshold whose accepted decisions reach ``target_accuracy``.

    Returns (threshold, coverage, accuracy of the accepted); (1.0, 0, nan) when none does.
    """
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    counts = np.arange(1, len(order) + 1)
    running = hits / counts
    ok = np.flatnonzero(running >= target_accuracy)
    if len(ok) == 0:
        return 1.0, 0.0, float("nan")
    # The largest accepted set that still meets the target, cut between distinct confidences.
    for last in ok[::-1]:
        nxt = last + 1
        if nxt == len(order) or confidence[order[nxt]] < confidence[order[last]]:
            return (
                float(confidence[order[last]]),
                float(counts[last] / len(order)),
                float(running[last]),
            )
    return 1.0, 0.0, float("nan")


def oos_threshold(scored: Scored, max_in_scope_loss: float = 0.05) -> tuple[float, float, float]:
    """The highest similarity cut-off that costs at most ``max_in_scope_loss`` of in-scope
    accuracy: as much out-of-scope recall as that budget buys.

    Returns (threshold, out-of-scope recall, in-scope accuracy) at that cut-off.
    """
    inside, sim = scored.in_scope, scored.similarity
    correct = scored.correct
    floor = float(correct[inside].mean()) - max_in_scope_loss
    values = np.unique(np.round(sim, 4))
    best = (float(values[0]) - 0.01, 0.0, float(correct[inside].mean()))
    for i, t in enumerate(values):
        kept = sim >= t
        acc = float((correct & kept)[inside].mean())
        if acc < floor:
            break
        # Cut half-way to the next lower similarity: a margin, not the edge of the sample.
        cut = float(t) if i == 0 else float(t + values[i - 1]) / 2
        best = (cut, float((~kept[~inside]).mean()), acc)
    return best


def fit_calibration(
    scored: Scored, *, target_accuracy: float = 0.95, max_in_scope_loss: float = 0.05
) -> RoutingCalibration:
    inside = scored.in_scope
    if not inside.any():
        raise ConfigurationError("the labelled data has no in-scope example")
    truth_idx = np.array([scored.agents.index(t) for t in scored.truth if t is not None])
    temperature = fit_temperature(scored.scores[inside], truth_idx, smoothing=0.0)
    threshold, coverage, accepted = accept_threshold(
        scored.correct[inside], scored.confidence[inside], target_accuracy
    )
    fitted: dict[str, Any] = {
        "examples": len(scored.truth),
        "out_of_scope_examples": int((~inside).sum()),
        "target_accuracy": target_accuracy,
        "accuracy": round(float(scored.correct[inside].mean()), 4),
        "accepted_coverage": round(coverage, 4),
        "accepted_accuracy": round(accepted, 4),
    }
    if (~inside).any():
        oos, recall, in_acc = oos_threshold(scored, max_in_scope_loss)
        fitted.update(
            max_in_scope_loss=max_in_scope_loss,
            out_of_scope_recall=round(recall, 4),
            in_scope_accuracy=round(in_acc, 4),
        )
    else:
        oos = float(np.clip(scored.similarity[inside].min() - 0.05, -1, 1))
    return RoutingCalibration(
        route_accept_confidence=round(min(max(threshold, 0.0), 1.0), 4),
        route_min_similarity=round(oos, 4),
        route_out_of_scope_similarity=round(oos, 4),
        route_temperature=round(temperature, 5),
        fitted_on=fitted,
    )
