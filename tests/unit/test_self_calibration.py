"""Routing thresholds fitted on the deployment's own cards (synthetic cards, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from switchboard.supervisor.routing.scoring import ScoringModel
from switchboard.supervisor.routing.self_calibration import (
    SelfCalibration,
    Thresholds,
    self_calibration,
)
from switchboard.supervisor.settings import SupervisorSettings

CONFIGURED = Thresholds(0.7, 0.3, 0.2)


def cards(seed: int, per_class: int = 30, classes: int = 5, noise: float = 0.9):
    """Card texts as vectors: per class, a description row then ``per_class`` examples."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 32))
    rows, labels, examples = [], [], []
    for c, centre in enumerate(centres):
        rows.append(centre)
        labels.append(c)
        examples.append(False)
        for _ in range(per_class):
            rows.append(centre + noise * rng.normal(size=32))
            labels.append(c)
            examples.append(True)
    x = np.asarray(rows)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return ScoringModel.fit(
        x.astype(np.float32), np.asarray(labels), classes, holdout=np.asarray(examples)
    )


def test_accept_threshold_meets_the_target_on_held_out_examples() -> None:
    model = cards(0)
    fitted = SelfCalibration(CONFIGURED, target_accuracy=0.95).fit(model)
    assert fitted is not None
    assert CONFIGURED.accept_confidence <= fitted.route_accept_confidence <= 1
    assert fitted.fitted_on["examples"] == 150
    assert fitted.fitted_on["accepted_accuracy"] >= 0.95
    # a stricter target accepts fewer decisions, never more
    stricter = SelfCalibration(CONFIGURED, target_accuracy=0.99).fit(model)
    assert stricter is not None
    assert stricter.route_accept_confidence >= fitted.route_accept_confidence
    assert stricter.fitted_on["coverage"] <= fitted.fitted_on["coverage"]


def test_fit_is_deterministic() -> None:
    a = SelfCalibration(CONFIGURED).fit(cards(1))
    b = SelfCalibration(CONFIGURED).fit(cards(1))
    assert a is not None and b is not None
    assert a.model_dump() == b.model_dump()


def test_too_few_examples_keep_the_configured_thresholds() -> None:
    model = cards(2, per_class=2)  # 10 examples in all
    policy = SelfCalibration(CONFIGURED, min_examples=20)
    assert policy.fit(model) is None
    assert policy.thresholds(model) == (CONFIGURED, None)
    assert policy.thresholds(None) == (CONFIGURED, None)


def test_similarity_cut_is_lowered_for_distant_examples_never_raised() -> None:
    far = cards(3, noise=3.0)  # examples far from each other: low similarities
    fitted = SelfCalibration(CONFIGURED).fit(far)
    assert fitted is not None
    assert fitted.route_min_similarity < CONFIGURED.min_similarity
    assert fitted.route_out_of_scope_similarity <= fitted.route_min_similarity
    near = cards(3, noise=0.2)
    tight = SelfCalibration(CONFIGURED).fit(near)
    assert tight is not None
    assert tight.route_min_similarity == CONFIGURED.min_similarity
    assert tight.route_out_of_scope_similarity == CONFIGURED.out_of_scope_similarity


def test_thresholds_set_explicitly_stay() -> None:
    pinned = frozenset({"route_accept_confidence", "route_min_similarity"})
    fitted = SelfCalibration(CONFIGURED, pinned=pinned).fit(cards(3, noise=3.0))
    assert fitted is not None
    assert fitted.route_accept_confidence == CONFIGURED.accept_confidence
    assert fitted.route_min_similarity == CONFIGURED.min_similarity
    assert fitted.fitted_on["kept_as_configured"] == sorted(pinned)


def test_settings_switch_it_off_and_pin_what_the_environment_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_ROUTE_SELF_CALIBRATION", "false")
    assert self_calibration(SupervisorSettings()) is None
    monkeypatch.setenv("SWITCHBOARD_ROUTE_SELF_CALIBRATION", "true")
    monkeypatch.setenv("SWITCHBOARD_ROUTE_ACCEPT_CONFIDENCE", "0.8")
    policy = self_calibration(SupervisorSettings())
    assert policy is not None
    assert policy.pinned == frozenset({"route_accept_confidence"})
    assert policy.configured.accept_confidence == 0.8
