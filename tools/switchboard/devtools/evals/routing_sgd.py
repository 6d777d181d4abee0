"""Routing on Schema-Guided Dialogue first turns (``make eval``): a second, differently shaped
set beside CLINC150.

Same protocol as CLINC150: one card per domain (a one-line description written here from the
domain's name, and 30 random first turns of the domain as examples, seed 0); the rest of the
domain's turns are the test set. The test set is split once, per domain, into ``dev`` (looked
at while improving the router) and ``heldout`` (never looked at while tuning; reported
separately). Measured: top-1 accuracy, and the embedding step's decisions with the thresholds
a deployment would use (coverage: the share it decides alone; accepted accuracy: how often
those are right): the shipped defaults, and the thresholds the supervisor fits on the cards
at start-up (``routing/self_calibration.py``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from switchboard.core.embeddings import Embedder
from switchboard.core.types import AgentCard
from switchboard.devtools.evals.datasets import Sgd
from switchboard.devtools.evals.routing_measures import (
    decision_measures,
    default_setting,
    score_vectors,
    self_calibrated,
)
from switchboard.supervisor.routing.index import EmbeddingIndex

SGD_DESCRIPTIONS = {
    "Alarm": "Alarms: set a new alarm, see or change the alarms I have.",
    "Banks": "Banking: check account balances and transfer money between accounts.",
    "Buses": "Intercity buses: find bus trips between cities and buy bus tickets.",
    "Calendar": "My calendar: see my events and appointments, add an event.",
    "Events": "Live events: concerts, sports games and plays; find them and buy tickets.",
    "Flights": "Flights: search one-way or round-trip flights and book plane tickets.",
    "Homes": "Homes: find apartments and houses to rent or buy, schedule a property visit.",
    "Hotels": "Hotels: find a hotel or a house to stay in and book a room.",
    "Media": "Streaming: find movies and shows to watch online at home and play them.",
    "Movies": "Cinema: movie showtimes at theaters near me and movie tickets.",
    "Music": "Music: find songs, albums and artists and play music.",
    "Payment": "Payments: send money to a friend or request a payment from someone.",
    "RentalCars": "Rental cars: find a car to rent and reserve it for pick-up.",
    "Restaurants": "Restaurants: find a place to eat and reserve a table.",
    "RideSharing": "Rides: call a cab or a shared ride (taxi, Uber, Lyft) to a destination.",
    "Services": "Local services: find and book a doctor, dentist, therapist, stylist or salon.",
    "Trains": "Trains: find train journeys between cities and buy train tickets.",
    "Travel": "Sightseeing: tourist attractions, museums and parks to visit in a city.",
    "Weather": "Weather: the forecast, temperature and rain for a city and date.",
}
CARD_EXAMPLES = 30
FEW_EXAMPLES = 5  # a deployment whose cards have few examples: descriptions carry more
SEED = 0


@dataclass
class SgdSplit:
    cards: list[int]  # rows used as card examples
    dev: list[int]
    heldout: list[int]


def split_sgd(sgd: Sgd, per_domain: int = CARD_EXAMPLES, seed: int = SEED) -> SgdSplit:
    """Per domain: ``per_domain`` random rows as card examples; the rest alternate between
    ``dev`` and ``heldout`` (after a shuffle with the same seed), so both cover every domain."""
    rng = np.random.default_rng(seed)
    domains = np.array([d for _, d in sgd.rows])
    out = SgdSplit([], [], [])
    for d in sgd.domains:
        mine = rng.permutation(np.flatnonzero(domains == d)).tolist()
        out.cards += mine[:per_domain]
        rest = mine[per_domain:]
        out.dev += rest[0::2]
        out.heldout += rest[1::2]
    out.cards.sort()
    out.dev.sort()
    out.heldout.sort()
    return out


def sgd_cards(sgd: Sgd, split: SgdSplit, per_domain: int | None = None) -> list[AgentCard]:
    """One card per domain; ``per_domain`` keeps only the first few of its examples."""
    examples: dict[str, list[str]] = {d: [] for d in sgd.domains}
    for r in split.cards:
        text, domain = sgd.rows[r]
        if per_domain is None or len(examples[domain]) < per_domain:
            examples[domain].append(text)
    return [
        AgentCard(name=d, description=SGD_DESCRIPTIONS.get(d, d), examples=examples[d])
        for d in sgd.domains
    ]


def _confusions(truth: list[str], pred: list[str], top: int = 5) -> list[str]:
    pairs = Counter((t, p) for t, p in zip(truth, pred, strict=True) if t != p)
    return [f"{t}->{p}: {n}" for (t, p), n in pairs.most_common(top)]


def evaluate_sgd(
    sgd: Sgd, embedder: Embedder, *, splits: tuple[str, ...] = ("dev", "heldout")
) -> dict[str, Any]:
    """30 examples per card; and 5 per card (the same test rows), for few examples."""
    split = split_sgd(sgd)
    report = _evaluate_cards(sgd, split, sgd_cards(sgd, split), embedder, splits)
    few = _evaluate_cards(sgd, split, sgd_cards(sgd, split, FEW_EXAMPLES), embedder, splits)
    report[f"few_examples_{FEW_EXAMPLES}"] = {
        k: (
            {kk: vv for kk, vv in v.items() if kk not in ("per_domain_top1", "confusions")}
            if isinstance(v, dict)
            else v
        )
        for k, v in few.items()
    }
    return report


def _evaluate_cards(
    sgd: Sgd,
    split: SgdSplit,
    cards: list[AgentCard],
    embedder: Embedder,
    splits: tuple[str, ...],
) -> dict[str, Any]:
    """Builds the cards' index as the supervisor does, then measures each test split."""
    t0 = time.perf_counter()
    index = EmbeddingIndex.build(cards, embedder)
    fit_s = time.perf_counter() - t0
    report: dict[str, Any] = {
        "domains": len(sgd.domains),
        "card_examples_per_domain": max(len(c.examples) for c in cards),
        "index_fit_seconds": round(fit_s, 2),
        "temperature": round(index.temperature, 5),
    }
    fitted = self_calibrated(index)
    if fitted is not None:
        report["self_calibration"] = fitted.settings_values() | {"fit": fitted.fitted_on}
    for name in splits:
        rows = getattr(split, name)
        texts = [sgd.rows[r][0] for r in rows]
        truth = [sgd.rows[r][1] for r in rows]
        scored = score_vectors(index, embedder.embed(texts), truth, texts=texts)
        per_domain = {
            d: round(
                float(np.mean([p == d for t, p in zip(truth, scored.pred, strict=True) if t == d])),
                4,
            )
            for d in sgd.domains
        }
        entry: dict[str, Any] = {
            "n": len(rows),
            "top1": round(float(scored.correct.mean()), 4),
            "with_default_thresholds": decision_measures(
                scored,
                default_setting("route_accept_confidence"),
                default_setting("route_min_similarity"),
            ),
            "per_domain_top1": per_domain,
            "confusions": _confusions(truth, scored.pred),
        }
        if fitted is not None:
            entry["with_self_calibration"] = decision_measures(
                scored, fitted.route_accept_confidence, fitted.route_min_similarity
            )
        report[name] = entry
    return report
