"""``switchboard eval ...``: routing thresholds from labelled data, and the dataset suite."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from switchboard.core.errors import ConfigurationError


def add_parser(sub: Any) -> Any:
    """Adds ``eval`` with ``routing`` and ``run``; returns its subparsers for more targets."""
    e = sub.add_parser("eval", help="offline evaluations (routing, retrieval) on ../shared/data")
    esub = e.add_subparsers(dest="eval_target", required=True)

    r = esub.add_parser("routing", help="fit routing thresholds from labelled examples")
    r.add_argument("--data", type=Path, required=True, help='JSONL {"text", "agent"}; "" = OOS')
    cards = r.add_mutually_exclusive_group()
    cards.add_argument("--agents-dir", type=Path, help="folder of */agent.yaml (default agents)")
    cards.add_argument("--agents", type=Path, help="supervisor agents file with inline cards")
    r.add_argument("--target-accuracy", type=float, default=0.95,
                   help="accepted decisions must be at least this accurate")  # fmt: skip
    r.add_argument("--max-in-scope-loss", type=float, default=0.05,
                   help="in-scope accuracy the out-of-scope cut-off may cost")  # fmt: skip
    r.add_argument("--write-config", type=Path,
                   help="write the thresholds here (YAML, or JSON for *.json); point "
                   "SWITCHBOARD_ROUTING_CALIBRATION at it")  # fmt: skip

    s = esub.add_parser("run", help="the dataset suite (CLINC150, SciFact) and baseline gate")
    s.add_argument("--data-dir", type=Path, help="default $SWITCHBOARD_EVAL_DATA or ../shared/data")
    s.add_argument("--out", type=Path, default=Path("build/eval-report.json"))
    s.add_argument("--cache-dir", type=Path, default=Path("build/eval-cache"))
    s.add_argument("--baseline", type=Path, default=Path("evals/baseline.json"))
    s.add_argument("--tolerance", type=float, help="override the baseline's tolerance")
    s.add_argument("--parts", default="clinc150,scifact")
    s.add_argument("--strategies", default="document,structure,fixed", help="SciFact chunkings")
    s.add_argument("--quick", action="store_true", help="one seed instead of three")
    s.add_argument("--update-baseline", action="store_true", help="accept this report")
    return esub


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.eval_target == "routing":
            return _routing(args)
        return _run(args)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _routing(args: argparse.Namespace) -> int:
    from switchboard.core.embeddings import shared_embedder
    from switchboard.evals.routing import evaluate_labelled, load_cards, read_labelled

    examples = read_labelled(args.data)
    cards = load_cards(args.agents_dir, args.agents)
    calibration, report = evaluate_labelled(
        examples,
        cards,
        shared_embedder(),
        target_accuracy=args.target_accuracy,
        max_in_scope_loss=args.max_in_scope_loss,
    )
    print(json.dumps(report, indent=2))
    if args.write_config:
        calibration.save(args.write_config)
        print(f"wrote {args.write_config}; set SWITCHBOARD_ROUTING_CALIBRATION={args.write_config}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from switchboard.core.embeddings import shared_embedder
    from switchboard.evals.datasets import data_dir
    from switchboard.evals.runner import baseline_from, compare, run_evals, write_json

    root = data_dir(args.data_dir)
    if not root.is_dir():
        print(f"SKIPPED: evaluation data not found at {root} (set --data-dir or "
              "SWITCHBOARD_EVAL_DATA); nothing to evaluate")  # fmt: skip
    report = run_evals(
        root,
        shared_embedder(),
        args.cache_dir,
        parts=[p.strip() for p in args.parts.split(",") if p.strip()],
        strategies=[s.strip() for s in args.strategies.split(",") if s.strip()],
        quick=args.quick,
    )
    write_json(args.out, report)
    print(f"wrote {args.out}")
    if args.update_baseline:
        previous = (
            json.loads(args.baseline.read_text(encoding="utf-8"))
            if args.baseline.is_file()
            else None
        )
        write_json(args.baseline, baseline_from(report, previous=previous))
        print(f"wrote {args.baseline}")
        return 0
    if not args.baseline.is_file():
        print(f"no baseline at {args.baseline}; not gating")
        return 0
    result = compare(report, json.loads(args.baseline.read_text(encoding="utf-8")), args.tolerance)
    for line in result.checked:
        print(f"ok        {line}")
    for line in result.skipped:
        print(f"skipped   {line}")
    for line in result.regressions:
        print(f"REGRESSED {line}")
    return 0 if result.ok else 1
