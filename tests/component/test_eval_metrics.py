"""Evaluation metrics, the embedding cache and the baseline gate (no datasets needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from switchboard.devtools.evals.cache import EmbeddingCache
from switchboard.devtools.evals.cli import main as eval_main
from switchboard.devtools.evals.datasets import DatasetMissing, load_clinc, load_scifact
from switchboard.devtools.evals.metrics import (
    accuracy,
    accuracy_at_coverage,
    macro_f1,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)
from switchboard.devtools.evals.runner import baseline_from, compare, lookup


def test_classification_metrics() -> None:
    truth = ["a", "a", "b", "b"]
    pred = ["a", "b", "b", None]
    assert accuracy(truth, pred) == 0.5
    assert macro_f1(truth, pred, ["a", "b"]) == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert accuracy_at_coverage([True, False, True], [0.9, 0.1, 0.5], 2 / 3) == 1.0


def test_ranking_metrics() -> None:
    ranked = ["x", "d1", "y", "d2"]
    rel = {"d1": 1, "d2": 1}
    assert recall_at_k(ranked, rel, 2) == 0.5
    assert reciprocal_rank(ranked, rel) == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranked, rel, 10) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(5)) / ideal
    )
    assert ndcg_at_k(["d1", "d2"], rel, 10) == pytest.approx(1.0)


class CountingEmbedder:
    model_id = "fake"
    dimension = 3

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts):
        self.calls += len(texts)
        return np.array([[len(t), 1, 0] for t in texts], dtype=np.float32)


def test_cache_embeds_each_block_once(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cache = EmbeddingCache(inner, tmp_path)
    first = cache.embed(["a", "bb", "ccc"])
    again = cache.embed(["a", "bb", "ccc"])
    np.testing.assert_array_equal(first, again)
    assert inner.calls == 3
    cache.embed(["a", "bb"])  # another content hash: embedded anew
    assert inner.calls == 5


def test_missing_datasets_are_reported(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissing):
        load_clinc(tmp_path)
    with pytest.raises(DatasetMissing):
        load_scifact(tmp_path)


def test_baseline_gate() -> None:
    report = {"clinc150": {"full": {"accuracy": 0.95}}, "scifact": {"skipped": "absent"}}
    baseline = {
        "tolerance": 0.01,
        "metrics": {"clinc150.full.accuracy": 0.97, "scifact.best.ndcg@10": 0.7},
    }
    result = compare(report, baseline)
    assert not result.ok and "clinc150.full.accuracy" in result.regressions[0]
    assert result.skipped and "scifact.best.ndcg@10" in result.skipped[0]
    assert compare(report, baseline, tolerance=0.05).ok
    assert lookup(report, "clinc150.full.accuracy") == 0.95
    assert baseline_from(report)["metrics"] == {"clinc150.full.accuracy": 0.95}


def test_eval_run_without_data_skips_clearly(tmp_path: Path, capsys, monkeypatch) -> None:
    import argparse

    monkeypatch.setattr("switchboard.core.embeddings.MiniLMEmbedder", CountingEmbedder)
    args = argparse.Namespace(
        eval_target="run",
        data_dir=tmp_path / "absent",
        out=tmp_path / "report.json",
        cache_dir=tmp_path / "cache",
        baseline=tmp_path / "baseline.json",
        tolerance=None,
        parts="clinc150,scifact",
        strategies="document",
        quick=True,
        update_baseline=False,
        agents_dir=Path("agents"),
        cases=Path("tests/data/behaviour.yaml"),
        sessions_data=Path("tests/data/sessions.yaml"),
    )
    (tmp_path / "baseline.json").write_text(
        json.dumps({"metrics": {"clinc150.full.accuracy": 0.97, "behaviour.pass_rate": 1.0}}),
        encoding="utf-8",
    )
    assert eval_main(args) == 0
    out = capsys.readouterr().out
    assert "SKIPPED CLINC150" in out and "SKIPPED SciFact" in out and "skipped   clinc150" in out
    # a part left out of --parts: counted, not listed
    assert "skipped   behaviour" not in out
    assert "skipped   1 baseline metrics of parts not run" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert "skipped" in report["clinc150"] and "skipped" in report["scifact"]


def test_covering_examples_spread_over_intents() -> None:
    from switchboard.devtools.evals.datasets import Clinc
    from switchboard.devtools.evals.routing_clinc import select_examples

    train = [(f"{d}-{i}-{n}", d) for d in ("x", "y") for i in range(3) for n in range(5)]
    intents = [f"{d}{i}" for d in ("x", "y") for i in range(3) for _ in range(5)]
    clinc = Clinc(["x", "y"], train, [], [], [], [], [], train_intents=intents)
    rows = select_examples(clinc, 6, "covering", 0)
    picked = [intents[r] for r in rows]
    assert all(picked.count(f"{d}{i}") == 2 for d in ("x", "y") for i in range(3))
    randoms = select_examples(clinc, 4, "random", 0)
    assert len(randoms) == 8 and len(set(randoms.tolist())) == 8
    assert len(select_examples(clinc, None, "random", 0)) == len(train)


def test_updating_the_baseline_keeps_metrics_of_parts_not_run() -> None:
    previous = {"metrics": {"scifact.best.ndcg@10": 0.7, "clinc150.full.accuracy": 0.9}}
    report = {"clinc150": {"full": {"accuracy": 0.97}}}
    assert baseline_from(report, previous=previous)["metrics"] == {
        "scifact.best.ndcg@10": 0.7,
        "clinc150.full.accuracy": 0.97,
    }
