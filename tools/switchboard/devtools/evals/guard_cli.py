"""``switchboard eval guard``: runs the guard evaluation, prints a summary, writes the JSON.

The evaluation itself is :func:`~switchboard.devtools.evals.guard.run_guard_eval`; this is
the command around it: where the data is, which embedder, and what the reader sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from switchboard.devtools.evals.guard import MAX_FPR, run_guard_eval
from switchboard.devtools.evals.guard_data import data_root
from switchboard.devtools.evals.guard_transfer import transfer_lines


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
    for split, m in report.get("security_cases", {}).items():
        print(
            f"security cases {split}: benign {m['benign']} FPR {m['fpr']}, "
            f"injections {m['injections']} recall {m['recall']}"
        )
    if "unseen_sets" in report:
        print("\n".join(transfer_lines(report["unseen_sets"])))
    lat = report["latency"]
    print(
        f"latency: {lat['screen_with_embedding_p50_ms']} ms p50 with embedding, "
        f"{lat['screen_with_precomputed_vector_p50_ms']} ms p50 with a precomputed vector"
    )


def main(data: Path | None, out: Path, folds: int = 5, target_fpr: float = 0.02) -> int:
    from switchboard.core.embeddings import MiniLMEmbedder

    root = data_root(data)
    if not root.exists():
        print(f"SKIPPED guard evaluation on datasets: {root} not found (pass --data DIR)")
    report = run_guard_eval(
        root,
        MiniLMEmbedder(),
        cache_dir=out.parent / "guard-eval-cache",
        folds=folds,
        target_fpr=target_fpr,
    )
    print_report(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0
