"""``switchboard eval ...``: routing thresholds from labelled data, and the dataset suite."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from switchboard.core.errors import ConfigurationError
from switchboard.devtools.evals.corpus import SHIPPED_STRATEGIES


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

    s = esub.add_parser(
        "run", help="the dataset suite (CLINC150, SciFact), the behaviour cases, baseline gate"
    )
    s.add_argument("--data-dir", type=Path, help="default $SWITCHBOARD_EVAL_DATA or ../shared/data")
    s.add_argument("--out", type=Path, default=Path("build/eval-report.json"))
    s.add_argument("--cache-dir", type=Path, default=Path("build/eval-cache"))
    s.add_argument("--baseline", type=Path, default=Path("evals/baseline.json"))
    s.add_argument("--tolerance", type=float, help="override the baseline's tolerance")
    s.add_argument(
        "--parts",
        default="clinc150,sgd,language,guard,scifact,behaviour,sessions,conversations,answers",
    )
    s.add_argument(
        "--strategies",
        default=",".join(SHIPPED_STRATEGIES),
        help="SciFact chunkings (default: the one the agents ship; all three: make eval-retrieval)",
    )
    s.add_argument("--quick", action="store_true", help="one seed instead of three")
    s.add_argument("--update-baseline", action="store_true", help="accept this report")
    s.add_argument("--agents-dir", type=Path, default=Path("agents"),
                   help="agents for the behaviour part (a local offline stack)")  # fmt: skip
    s.add_argument("--cases", type=Path, default=Path("tests/data/behaviour.yaml"),
                   help="behaviour cases")  # fmt: skip
    s.add_argument("--sessions-data", type=Path, default=Path("tests/data/sessions.yaml"),
                   help="labelled conversations for the sessions part")  # fmt: skip
    s.add_argument("--conversations-data", type=Path,
                   default=Path("tests/data/conversations.yaml"),
                   help="labelled follow-ups for the conversations (memory) part")  # fmt: skip
    s.add_argument("--answer-set", type=Path, default=Path("evals/answers/questions.yaml"),
                   help="labelled questions for the answers part")  # fmt: skip

    f = esub.add_parser(
        "answers-fit", help="fit the offline answer confidence on the answer set's dev split"
    )
    f.add_argument("--agents-dir", type=Path, default=Path("agents"))
    f.add_argument("--answer-set", type=Path, default=Path("evals/answers/questions.yaml"))
    f.add_argument("--cache-dir", type=Path, default=Path("build/eval-cache"))

    b = esub.add_parser("behaviour", help="the behaviour cases against a supervisor")
    where = b.add_mutually_exclusive_group(required=True)
    where.add_argument("--address", help="HOST:PORT of a running supervisor")
    where.add_argument("--local", action="store_true",
                       help="start an offline stack from --agents-dir for the run")  # fmt: skip
    b.add_argument("--agents-dir", type=Path, default=Path("agents"))
    b.add_argument("--cases", type=Path, default=Path("tests/data/behaviour.yaml"))
    b.add_argument("--expect", choices=["any", "offline", "llm"], default="any",
                   help="answers must be DEGRADED (offline), ANSWERED (llm) or either")  # fmt: skip
    b.add_argument("--no-llm-facts", action="store_true",
                   help="do not check facts in answers the model wrote (a fake model)")  # fmt: skip
    b.add_argument("--no-skip", action="store_true",
                   help="run cases whose required capability the probe did not find")  # fmt: skip
    b.add_argument("--token", help="bearer token (default: $SWITCHBOARD_TOKEN)")
    b.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    b.add_argument("--out", type=Path, help="also write the JSON report here")

    se = esub.add_parser(
        "sessions", help="session stickiness: per-turn accuracy with and without, fitted rule"
    )
    se.add_argument("--data", type=Path, default=Path("tests/data/sessions.yaml"),
                    help="labelled conversations (YAML)")  # fmt: skip
    se.add_argument("--agents-dir", type=Path, default=Path("agents"))
    se.add_argument("--no-cv", action="store_true", help="skip leave-one-conversation-out")
    se.add_argument("--out", type=Path, help="also write the JSON report here")
    return esub


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.eval_target == "routing":
            return _routing(args)
        if args.eval_target == "behaviour":
            return _behaviour(args)
        if args.eval_target == "sessions":
            return _sessions(args)
        if args.eval_target == "answers-fit":
            return _answers_fit(args)
        return _run(args)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _routing(args: argparse.Namespace) -> int:
    from switchboard.core.embeddings import MiniLMEmbedder
    from switchboard.devtools.evals.routing import evaluate_labelled, load_cards, read_labelled

    examples = read_labelled(args.data)
    cards = load_cards(args.agents_dir, args.agents)
    calibration, report = evaluate_labelled(
        examples,
        cards,
        MiniLMEmbedder(),
        target_accuracy=args.target_accuracy,
        max_in_scope_loss=args.max_in_scope_loss,
    )
    print(json.dumps(report, indent=2))
    if args.write_config:
        calibration.save(args.write_config)
        print(f"wrote {args.write_config}; set SWITCHBOARD_ROUTING_CALIBRATION={args.write_config}")
    return 0


def _answers_fit(args: argparse.Namespace) -> int:
    from switchboard.core.embeddings import MiniLMEmbedder
    from switchboard.devtools.evals.answers_fit import fit_confidence
    from switchboard.devtools.evals.cache import EmbeddingCache

    embedder = MiniLMEmbedder()
    report = fit_confidence(
        args.agents_dir,
        args.answer_set,
        embedder,
        ingest_embedder=EmbeddingCache(embedder, args.cache_dir),
        cache_dir=args.cache_dir,
    )
    print(json.dumps(report, indent=2))
    return 0


def _sessions(args: argparse.Namespace) -> int:
    from switchboard.core.embeddings import MiniLMEmbedder
    from switchboard.devtools.evals.routing import load_cards
    from switchboard.devtools.evals.runner import write_json
    from switchboard.devtools.evals.sessions import evaluate_sessions, load_conversations
    from switchboard.supervisor.routing.sessions import StickyRule
    from switchboard.supervisor.settings import SupervisorSettings

    settings = SupervisorSettings()
    report = evaluate_sessions(
        load_conversations(args.data),
        load_cards(args.agents_dir, None),
        MiniLMEmbedder(),
        configured=StickyRule(settings.session_switch_confidence, settings.session_context_weight),
        cross_validate=not args.no_cv,
    )
    print(json.dumps(report, indent=2))
    fitted = report["fitted"]
    print(f"fitted: SWITCHBOARD_SESSION_SWITCH_CONFIDENCE={fitted['switch_confidence']} "
          f"SWITCHBOARD_SESSION_CONTEXT_WEIGHT={fitted['context_weight']}")  # fmt: skip
    if args.out:
        write_json(args.out, report)
        print(f"wrote {args.out}")
    return 0


def _behaviour(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from switchboard.devtools.evals.behaviour import PROFILES
    from switchboard.devtools.evals.behaviour_report import report_lines
    from switchboard.devtools.evals.behaviour_run import evaluate, evaluate_local
    from switchboard.devtools.evals.runner import write_json
    from switchboard.devtools.settings import ToolSettings

    if args.local:
        report = evaluate_local(args.agents_dir, args.cases, timeout=args.timeout)
    else:
        token = args.token
        if token is None and (env_token := ToolSettings().token) is not None:
            token = env_token.get_secret_value()
        profile = PROFILES[args.expect]
        if args.no_llm_facts:
            profile = replace(profile, llm_facts=False)
        report = evaluate(
            args.address,
            args.cases,
            profile,
            timeout=args.timeout,
            token=token,
            skip_missing=not args.no_skip,
        )
    print("\n".join(report_lines(report)))
    if args.out:
        write_json(args.out, report)
        print(f"wrote {args.out}")
    return 0 if report["failed"] == 0 else 1


def _run(args: argparse.Namespace) -> int:
    from switchboard.core.embeddings import MiniLMEmbedder
    from switchboard.core.settings import LLMSettings
    from switchboard.devtools.evals.datasets import data_dir
    from switchboard.devtools.evals.runner import baseline_from, compare, run_evals, write_json

    root = data_dir(args.data_dir)
    if not root.is_dir():
        print(f"SKIPPED: evaluation data not found at {root} (set --data-dir or "
              "SWITCHBOARD_EVAL_DATA); nothing to evaluate")  # fmt: skip
    report = run_evals(
        root,
        MiniLMEmbedder(),
        args.cache_dir,
        parts=[p.strip() for p in args.parts.split(",") if p.strip()],
        strategies=[s.strip() for s in args.strategies.split(",") if s.strip()],
        quick=args.quick,
        agents_dir=args.agents_dir,
        cases=args.cases,
        sessions_data=args.sessions_data,
        conversations_data=getattr(
            args, "conversations_data", Path("tests/data/conversations.yaml")
        ),
        answer_set=getattr(args, "answer_set", Path("evals/answers/questions.yaml")),
        # With ANTHROPIC_API_KEY set: Claude answers the answer set too, and a judge reads it.
        llm_settings=LLMSettings(),
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
    if result.not_run:  # one count, not a line each
        print(f"skipped   {len(result.not_run)} baseline metrics of parts not run")
    for line in result.regressions:
        print(f"REGRESSED {line}")
    return 0 if result.ok else 1
