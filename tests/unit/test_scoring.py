"""The embedding router's model and calibration, on synthetic data (no datasets needed)."""

from __future__ import annotations

import numpy as np
import pytest

from switchboard.supervisor.routing.calibration import (
    RoutingCalibration,
    Scored,
    accept_threshold,
    fit_calibration,
    oos_threshold,
)
from switchboard.supervisor.routing.lexical import LexicalView
from switchboard.supervisor.routing.linear import softmax
from switchboard.supervisor.routing.scoring import ScoringModel, fit_temperature, kernel_scores
from switchboard.supervisor.settings import SupervisorSettings


def clusters(seed: int, per_class: int = 40, classes: int = 4, noise: float = 0.6):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 32))
    x = np.concatenate([c + noise * rng.normal(size=(per_class, 32)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.repeat(np.arange(classes), per_class)
    return x.astype(np.float32), y


def test_kernel_scores_is_a_soft_maximum_per_class() -> None:
    sims = np.array([[0.9, 0.1, 0.5, 0.4]])
    labels = np.array([0, 0, 1, 1])
    out = kernel_scores(sims, labels, 3, tau=0.01)
    assert out[0, 0] == pytest.approx(0.9, abs=1e-3)
    assert out[0, 1] == pytest.approx(0.5, abs=1e-2)
    assert out[0, 2] == -np.inf  # a class without texts never wins
    shuffled = kernel_scores(sims[:, [2, 0, 3, 1]], labels[[2, 0, 3, 1]], 3, tau=0.01)
    np.testing.assert_allclose(shuffled, out)


def test_model_separates_clusters_and_is_calibrated() -> None:
    x, y = clusters(0)
    model = ScoringModel.fit(x, y, 4)
    p = model.probabilities(model.scores(x))
    assert (p.argmax(axis=1) == y).mean() > 0.95
    assert 0 < model.temperature < 1


def test_temperature_recovers_the_true_one() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4000, 5))
    truth = np.array([rng.choice(5, p=row) for row in softmax(scores, 0.5)])
    assert fit_temperature(scores, truth, smoothing=0.0) == pytest.approx(0.5, rel=0.15)


def test_smoothing_keeps_a_perfect_small_set_from_certainty() -> None:
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    truth = np.array([0, 1, 0])
    smoothed = fit_temperature(scores, truth)
    assert smoothed > fit_temperature(scores, truth, smoothing=0.0)
    assert softmax(scores, smoothed).max() < 0.999


def test_accept_threshold_meets_the_target() -> None:
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, True, False, True, False])
    threshold, coverage, acc = accept_threshold(correct, confidence, 0.75)
    assert threshold == pytest.approx(0.7) and coverage == pytest.approx(5 / 6)
    assert acc == pytest.approx(0.8)
    assert accept_threshold(correct, confidence, 1.0)[0] == pytest.approx(0.9)


def scored_example() -> Scored:
    truth: list[str | None] = ["a", "a", "b", "b", None, None]
    return Scored(
        truth=truth,
        pred=["a", "a", "b", "a", "a", "b"],
        confidence=np.array([0.99, 0.9, 0.97, 0.6, 0.7, 0.5]),
        similarity=np.array([0.8, 0.7, 0.75, 0.4, 0.3, 0.2]),
        scores=np.array([[0.8, 0.1], [0.7, 0.2], [0.1, 0.75], [0.4, 0.38], [0.3, 0.1], [0.1, 0.2]]),
        agents=["a", "b"],
    )


def test_oos_cut_off_costs_at_most_the_budget() -> None:
    threshold, recall, in_acc = oos_threshold(scored_example(), max_in_scope_loss=0.0)
    assert recall == 1.0 and in_acc == pytest.approx(0.75)
    assert threshold == pytest.approx(0.55)  # half-way between 0.4 and 0.7


def test_calibration_file_round_trips_and_feeds_settings(tmp_path, monkeypatch) -> None:
    fitted = fit_calibration(scored_example(), target_accuracy=0.9)
    assert fitted.route_accept_confidence == pytest.approx(0.9)
    path = tmp_path / "routing.yaml"
    fitted.save(path)
    assert RoutingCalibration.load(path) == fitted
    monkeypatch.setenv("SWITCHBOARD_ROUTING_CALIBRATION", str(path))
    monkeypatch.setenv("SWITCHBOARD_ROUTE_MIN_SIMILARITY", "0.11")
    settings = SupervisorSettings()
    assert settings.route_accept_confidence == fitted.route_accept_confidence
    assert settings.route_out_of_scope_similarity == fitted.route_out_of_scope_similarity
    assert settings.route_temperature == fitted.route_temperature
    assert settings.route_min_similarity == 0.11  # set explicitly: the environment wins


def test_the_word_view_separates_agents_whose_vectors_do_not() -> None:
    """Every card text has the same vector; only the words tell the agents apart."""
    texts = ["refund my invoice", "a copy of the invoice", "reset my password", "password expired"]
    vectors = np.tile(np.eye(8, dtype=np.float32)[0], (4, 1))
    model = ScoringModel.fit(vectors, np.array([0, 0, 1, 1]), 2, calibrate=False, texts=texts)
    query = vectors[:1]
    password = model.scores(query, ["I forgot my password"])[0]
    invoice = model.scores(query, ["where is the invoice?"])[0]
    assert password[1] > password[0] and invoice[0] > invoice[1]
    blind = model.scores(query)  # no text (e.g. a vector blended with context): vectors alone
    assert blind[0, 0] == pytest.approx(blind[0, 1])
    with pytest.raises(ValueError, match="2 texts for 1 query"):
        model.scores(query, ["invoice", "password"])
    with pytest.raises(ValueError, match="3 texts for 4 card rows"):
        ScoringModel.fit(vectors, np.array([0, 0, 1, 1]), 2, texts=texts[1:])
    assert LexicalView.fit([frozenset({"only"}), frozenset({"one"})], np.array([0, 0]), 2) is None


# one word (one word piece) per card text, no piece shared between texts
_WORDS = [
    "apple",
    "river",
    "castle",
    "doctor",
    "engine",
    "forest",
    "guitar",
    "harbor",
    "island",
    "jacket",
]
_MORE = [
    "kettle",
    "ladder",
    "mirror",
    "needle",
    "orange",
    "pencil",
    "rabbit",
    "saddle",
    "ticket",
    "violin",
]


def test_held_out_texts_are_scored_by_a_word_view_fitted_without_them() -> None:
    """Out-of-fold scores (temperature, thresholds) must see what a new request sees: a word
    view that never saw its words. Every text here has its own word, so a word view fitted
    with the held-out rows would call them all right; one fitted without them cannot tell."""
    texts = _WORDS + _MORE
    vectors = np.tile(np.eye(8, dtype=np.float32)[0], (20, 1))
    labels = np.repeat([0, 1], 10)
    model = ScoringModel.fit(vectors, labels, 2, texts=texts)
    assert model.held_out is not None and model.lexical is not None
    assert model.scores(vectors[:1], ["castle"]).argmax() == 0  # seen: the view knows it
    assert (model.held_out.scores.argmax(axis=1) == model.held_out.truth).mean() <= 0.6


def test_scores_without_the_text_get_their_own_temperature() -> None:
    texts = [f"invoice refund {w}" for w in _WORDS] + [f"password reset {w}" for w in _MORE]
    vectors = np.tile(np.eye(8, dtype=np.float32)[0], (20, 1))  # vectors that say nothing
    labels = np.repeat([0, 1], 10)
    worded = ScoringModel.fit(vectors, labels, 2, texts=texts)
    blind = ScoringModel.fit(vectors, labels, 2)
    held = worded.held_out
    assert held is not None and held.vector_scores is not None
    assert (held.scores.argmax(axis=1) == held.truth).all()  # the words carry it
    assert worded.temperature == fit_temperature(held.scores, held.truth)
    assert worded.vector_temperature == fit_temperature(held.vector_scores, held.truth)
    assert worded.vector_temperature != worded.temperature
    assert worded.temperature_for(with_text=True) == worded.temperature
    assert worded.temperature_for(with_text=False) == worded.vector_temperature
    assert blind.temperature_for(with_text=False) == blind.temperature  # one view, one
