"""``switchboard eval guard``: measure the injection guard on the datasets in ``../shared/data``.

1. deepset/prompt-injections (training split) by stratified k-fold: each fold is screened by a
   guard trained on the other folds plus the shipped examples, never on the fold itself, with
   its threshold chosen on its own training data. Reported overall, English and German:
   recall at FPR ≤ 0.05 (the best threshold on the held-out scores, for comparison with the
   reference figures), and recall/FPR at the threshold the guard itself chose.
2. giskard attack prompts: recall, for the guard as shipped and with deepset added.
3. Benign in-domain requests (the demo agents' examples, the fact questions in
   ``tests/data/facts``): false-positive rate; shipped examples that are near-duplicates of
   them (cosine ≥ 0.9) are left out of training so the figure is not flattered. The agents'
   knowledge chunks go through indirect screening for its false-positive rate.
4. Latency of one screening, embedding included and with a precomputed vector.

The datasets are read in place (``--data``, else ``$SWITCHBOARD_EVAL_DATA``, else
``../shared/data`` beside the repo) and never copied; when absent, that part is skipped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from switchboard.core.embeddings import Embedder, Matrix
from switchboard.guard.classifier import GuardClassifier, TrainingConfig, stratified_folds
from switchboard.guard.detector import Guard
from switchboard.guard.examples import Example, training_examples
from switchboard.guard.lang import looks_german
from switchboard.guard.rules import match_rules

REPO_ROOT = Path(__file__).resolve().parents[4]
DATA_ENV = "SWITCHBOARD_EVAL_DATA"
MAX_FPR = 0.05
NEAR_DUPLICATE = 0.9


def data_root(override: Path | None = None) -> Path:
    if override is not None:
        return override
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else (REPO_ROOT / ".." / "shared" / "data").resolve()


class CachedEmbedder:
    """Embeds each distinct text once; vectors persist under ``folder`` between runs."""

    def __init__(self, embedder: Embedder, folder: Path) -> None:
        self._embedder = embedder
        self._path = folder / f"{embedder.model_id}.npz"
        self._memo: dict[str, npt.NDArray[np.float32]] = {}
        if self._path.exists():
            with np.load(self._path, allow_pickle=False) as data:
                for key, vec in zip(data["keys"], data["vectors"], strict=True):
                    self._memo[str(key)] = vec.astype(np.float32)

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def embed(self, texts: Sequence[str]) -> Matrix:
        keys = [self._key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._memo}.items()
        )
        if missing:
            vectors = self._embedder.embed([t for _, t in missing])
            for (k, _), v in zip(missing, vectors, strict=True):
                self._memo[k] = v
            self._save()
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._memo[k] for k in keys]).astype(np.float32)

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(list(self._memo), dtype=np.str_),
            vectors=np.stack(list(self._memo.values())),
        )
        tmp.replace(self._path)


# --- datasets -------------------------------------------------------------------------------


def load_deepset(root: Path) -> list[Example] | None:
    path = root / "injection" / "deepset" / "train.jsonl"
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Example(str(r["text"]), int(r["label"])) for r in rows]


def load_giskard(root: Path) -> list[dict[str, str]] | None:
    path = root / "injection" / "giskard" / "prompt_injections.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8", newline="") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def benign_in_domain(repo: Path = REPO_ROOT) -> list[str]:
    texts: list[str] = []
    for cfg in sorted(repo.glob("agents/*/agent.yaml")):
        texts += [str(e) for e in (yaml.safe_load(cfg.read_text()) or {}).get("examples", [])]
    for facts in sorted(repo.glob("tests/data/facts/*.yaml")):
        texts += [str(r["question"]) for r in yaml.safe_load(facts.read_text()) or []]
    return texts


def knowledge_passages(repo: Path = REPO_ROOT, size: int = 900) -> list[str]:
    """The agents' knowledge documents as paragraphs packed into chunks of ~``size`` chars."""
    out: list[str] = []
    for doc in sorted(repo.glob("agents/*/knowledge/*.md")):
        chunk = ""
        for para in doc.read_text(encoding="utf-8").split("\n\n"):
            if chunk and len(chunk) + len(para) > size:
                out.append(chunk.strip())
                chunk = ""
            chunk += para + "\n\n"
        if chunk.strip():
            out.append(chunk.strip())
    return out


# --- metrics --------------------------------------------------------------------------------


def recall_at_fpr(scores: npt.NDArray[Any], labels: npt.NDArray[Any], max_fpr: float) -> float:
    """Best recall with benign FPR ≤ ``max_fpr``, blocking ``score > t`` for some ``t``."""
    neg = np.sort(scores[labels == 0])[::-1]
    pos = scores[labels == 1]
    if pos.size == 0:
        return float("nan")
    allowed = int(np.floor(max_fpr * neg.size))
    t = neg[allowed] if allowed < neg.size else -np.inf
    return float((pos > t).mean())


def _rate(mask: npt.NDArray[np.bool_]) -> float:
    return round(float(mask.mean()), 4) if mask.size else float("nan")


def _subset_metrics(
    combined: npt.NDArray[np.float32],
    clf: npt.NDArray[np.float32],
    rules: npt.NDArray[np.bool_],
    blocked: npt.NDArray[np.bool_],
    y: npt.NDArray[np.int64],
) -> dict[str, Any]:
    return {
        "n": int(y.size),
        "injections": int(y.sum()),
        f"recall_at_fpr_{MAX_FPR}": round(recall_at_fpr(combined, y, MAX_FPR), 4),
        "recall_at_fpr_0.0": round(recall_at_fpr(combined, y, 0.0), 4),
        "at_chosen_threshold": {
            "recall": _rate(blocked[y == 1]),
            "fpr": _rate(blocked[y == 0]),
        },
        "rules_only": {"recall": _rate(rules[y == 1]), "fpr": _rate(rules[y == 0])},
        f"classifier_only_recall_at_fpr_{MAX_FPR}": round(recall_at_fpr(clf, y, MAX_FPR), 4),
    }


# --- the evaluation -------------------------------------------------------------------------


def _fit(
    examples: Sequence[Example], embedder: Embedder, target_fpr: float, config: TrainingConfig
) -> GuardClassifier:
    texts = [e.text for e in examples]
    return GuardClassifier.fit(
        texts,
        [e.label for e in examples],
        embedder.embed(texts),
        sources=[e.source for e in examples],
        target_fpr=target_fpr,
        config=config,
    )


def evaluate_deepset(
    deepset: list[Example],
    shipped: list[Example],
    embedder: Embedder,
    *,
    folds: int = 5,
    target_fpr: float = 0.02,
    config: TrainingConfig | None = None,
) -> dict[str, Any]:
    config = config or TrainingConfig()
    texts = [e.text for e in deepset]
    y = np.array([e.label for e in deepset], dtype=np.int64)
    vectors = embedder.embed(texts)
    german = np.array([looks_german(t) for t in texts])
    rules = np.array([bool(match_rules(t, "user")) for t in texts])
    clf = np.zeros(y.size, dtype=np.float32)
    blocked = np.zeros(y.size, dtype=bool)
    thresholds: list[float] = []
    fold_of = stratified_folds(y, folds, seed=12345)
    for f in range(folds):
        train = [deepset[i] for i in np.flatnonzero(fold_of != f)] + list(shipped)
        model = _fit(train, embedder, target_fpr, config)
        test = np.flatnonzero(fold_of == f)
        clf[test] = model.scores([texts[i] for i in test], vectors[test])
        blocked[test] = rules[test] | (clf[test] >= model.user_threshold)
        thresholds.append(model.user_threshold)
    combined = np.where(rules, np.float32(1.0), clf).astype(np.float32)
    out: dict[str, Any] = {
        "method": f"stratified {folds}-fold; train = other folds + shipped examples",
        "target_fpr": target_fpr,
        "thresholds": [round(t, 4) for t in thresholds],
        "overall": _subset_metrics(combined, clf, rules, blocked, y),
    }
    for name, mask in (("english", ~german), ("german", german)):
        out[name] = _subset_metrics(combined[mask], clf[mask], rules[mask], blocked[mask], y[mask])
    return out


def _dedup(examples: list[Example], vectors: Matrix, against: Matrix) -> list[Example]:
    if against.size == 0:
        return examples
    sims = vectors @ against.T
    keep = sims.max(axis=1) < NEAR_DUPLICATE
    return [e for e, k in zip(examples, keep, strict=True) if k]


def evaluate_deployed(
    examples: list[Example],
    embedder: Embedder,
    giskard: list[dict[str, str]] | None,
    benign: list[str],
    passages: list[str],
    *,
    target_fpr: float,
    config: TrainingConfig,
) -> dict[str, Any]:
    benign_vecs = embedder.embed(benign)
    ex_vecs = embedder.embed([e.text for e in examples])
    kept = _dedup(examples, ex_vecs, benign_vecs)
    guard = Guard(_fit(kept, embedder, target_fpr, config), embedder)
    out: dict[str, Any] = {
        "training_examples": len(kept),
        "left_out_near_duplicates": len(examples) - len(kept),
        "user_threshold": round(guard.classifier.user_threshold, 4),
        "indirect_threshold": round(guard.classifier.indirect_threshold, 4),
    }
    if giskard is not None:
        prompts = [r["prompt"] for r in giskard]
        verdicts = guard.screen_many(prompts, "user", embedder.embed(prompts))
        by_group: dict[str, list[bool]] = {}
        for r, v in zip(giskard, verdicts, strict=True):
            by_group.setdefault(r.get("group") or r.get("name") or "?", []).append(v.blocked)
        out["giskard"] = {
            "n": len(prompts),
            "recall": round(sum(v.blocked for v in verdicts) / max(len(prompts), 1), 4),
            "by_group": {g: round(sum(b) / len(b), 4) for g, b in sorted(by_group.items())},
            "missed": [p[:100] for p, v in zip(prompts, verdicts, strict=True) if not v.blocked],
        }
    verdicts = guard.screen_many(benign, "user", benign_vecs)
    out["benign_in_domain"] = {
        "n": len(benign),
        "fpr": round(sum(v.blocked for v in verdicts) / max(len(benign), 1), 4),
        "flagged": [
            {"text": t[:100], "reason": v.reason}
            for t, v in zip(benign, verdicts, strict=True)
            if v.blocked
        ],
    }
    if passages:
        pv = guard.screen_many(passages, "retrieved", embedder.embed(passages))
        out["knowledge_passages_indirect"] = {
            "n": len(passages),
            "fpr": round(sum(v.blocked for v in pv) / len(passages), 4),
            "flagged": [
                {"text": t[:100], "reason": v.reason}
                for t, v in zip(passages, pv, strict=True)
                if v.blocked
            ],
        }
    return out


def measure_latency(guard: Guard, embedder: Embedder, texts: list[str]) -> dict[str, float]:
    embedder.embed(["warm up"])
    with_embedding: list[float] = []
    with_vector: list[float] = []
    vectors = embedder.embed(texts)
    for text, vec in zip(texts, vectors, strict=True):
        t0 = time.perf_counter()
        guard.screen_user(text)
        with_embedding.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        guard.screen_user(text, vec)
        with_vector.append((time.perf_counter() - t0) * 1000)
    return {
        "screen_with_embedding_p50_ms": round(statistics.median(with_embedding), 2),
        "screen_with_precomputed_vector_p50_ms": round(statistics.median(with_vector), 3),
        "screen_with_precomputed_vector_p95_ms": round(float(np.percentile(with_vector, 95)), 3),
    }


def run_guard_eval(
    data: Path,
    embedder: Embedder,
    *,
    cache_dir: Path,
    folds: int = 5,
    target_fpr: float = 0.02,
    config: TrainingConfig | None = None,
) -> dict[str, Any]:
    config = config or TrainingConfig()
    cached = CachedEmbedder(embedder, cache_dir)
    shipped = training_examples()
    deepset = load_deepset(data)
    giskard = load_giskard(data)
    benign = benign_in_domain()
    passages = knowledge_passages()
    report: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": embedder.model_id,
            "machine": f"{platform.machine()} {platform.python_version()} cpus={os.cpu_count()}",
            "data_dir": str(data),
            "shipped_examples": len(shipped),
            "config": config.key(),
        }
    }
    if deepset is None:
        report["deepset"] = {"skipped": f"{data}/injection/deepset/train.jsonl not found"}
    else:
        report["deepset"] = evaluate_deepset(
            deepset, shipped, cached, folds=folds, target_fpr=target_fpr, config=config
        )
    if giskard is None:
        report["giskard_skipped"] = f"{data}/injection/giskard/prompt_injections.csv not found"
    report["shipped_only"] = evaluate_deployed(
        shipped, cached, giskard, benign, passages, target_fpr=target_fpr, config=config
    )
    if deepset is not None:
        report["shipped_plus_deepset"] = evaluate_deployed(
            shipped + deepset,
            cached,
            giskard,
            benign,
            passages,
            target_fpr=target_fpr,
            config=config,
        )
    texts = [e.text for e in shipped]
    guard = Guard(_fit(shipped, cached, target_fpr, config), embedder)
    report["latency"] = measure_latency(guard, embedder, texts[:: max(1, len(texts) // 100)])
    return report


def _line(name: str, m: dict[str, Any]) -> str:
    chosen = m["at_chosen_threshold"]
    return (
        f"  {name:8s} n={m['n']:4d} inj={m['injections']:4d}  "
        f"recall@FPR<={MAX_FPR}: {m[f'recall_at_fpr_{MAX_FPR}']:.3f}  "
        f"at chosen threshold: recall {chosen['recall']:.3f} FPR {chosen['fpr']:.3f}  "
        f"rules only: recall {m['rules_only']['recall']:.3f} FPR {m['rules_only']['fpr']:.3f}"
    )


def print_report(report: dict[str, Any]) -> None:
    ds = report.get("deepset", {})
    if "skipped" in ds:
        print(f"SKIPPED deepset: {ds['skipped']}")
    else:
        print(f"deepset ({ds['method']}), thresholds {ds['thresholds']}:")
        for name in ("overall", "english", "german"):
            print(_line(name, ds[name]))
    if "giskard_skipped" in report:
        print(f"SKIPPED giskard: {report['giskard_skipped']}")
    for variant in ("shipped_only", "shipped_plus_deepset"):
        v = report.get(variant)
        if v is None:
            continue
        print(
            f"{variant}: {v['training_examples']} training examples, "
            f"thresholds user {v['user_threshold']:.3f} indirect {v['indirect_threshold']:.3f}"
        )
        if "giskard" in v:
            print(f"  giskard recall {v['giskard']['recall']:.3f} (n={v['giskard']['n']})")
        b = v["benign_in_domain"]
        print(f"  benign in-domain FPR {b['fpr']:.3f} (n={b['n']})")
        if "knowledge_passages_indirect" in v:
            k = v["knowledge_passages_indirect"]
            print(f"  knowledge passages (indirect) FPR {k['fpr']:.3f} (n={k['n']})")
    lat = report["latency"]
    print(
        f"latency: {lat['screen_with_embedding_p50_ms']} ms p50 with embedding, "
        f"{lat['screen_with_precomputed_vector_p50_ms']} ms p50 with a precomputed vector"
    )


def main(data: Path | None, out: Path, folds: int = 5, target_fpr: float = 0.02) -> int:
    from switchboard.core.embeddings import shared_embedder

    root = data_root(data)
    if not root.exists():
        print(f"SKIPPED guard evaluation on datasets: {root} not found (pass --data DIR)")
    report = run_guard_eval(
        root,
        shared_embedder(),
        cache_dir=out.parent / "guard-eval-cache",
        folds=folds,
        target_fpr=target_fpr,
    )
    print_report(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0
