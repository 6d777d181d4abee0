"""``make eval``: run the dataset evaluations and the behaviour cases, write a JSON report,
gate it on a baseline.

The baseline (``evals/baseline.json``) lists metrics by their dotted path in the report and
the value they had when it was last accepted. A metric that drops by more than the tolerance
fails the run; a metric whose dataset is absent is reported as skipped, never as a failure.
All gated metrics are higher-is-better; latencies are reported but not gated (they depend on
the machine and its load).
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard.core.embeddings import Embedder
from switchboard.core.settings import LLMSettings
from switchboard.devtools.evals.cache import EmbeddingCache
from switchboard.devtools.evals.corpus import SHIPPED_STRATEGIES
from switchboard.devtools.evals.datasets import DatasetMissing, load_clinc, load_scifact, load_sgd

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 0.02
GATED = (
    "clinc150.covering_30.accuracy",
    "clinc150.covering_30.macro_f1",
    "clinc150.covering_30.accepted_accuracy_at_70pct",
    "clinc150.covering_30.with_fitted_thresholds.oos_recall",
    "clinc150.covering_30.with_fitted_thresholds.in_scope_accuracy",
    "clinc150.covering_30.oos_recall_at_in_scope_80_oracle",
    "clinc150.random_30.oos_recall_at_in_scope_80_oracle",
    "clinc150.random_30.accuracy",
    "clinc150.random_30.accepted_accuracy_at_70pct",
    "clinc150.full.accuracy",
    "scifact.best.ndcg@10",
    "scifact.document.dense.ndcg@10",
    "scifact.document.hybrid.ndcg@10",
    "scifact.structure.hybrid.ndcg@10",
    "scifact.fixed.hybrid.ndcg@10",
    "behaviour.pass_rate",
    "sessions.with_stickiness.turn_accuracy",
    "conversations.offline.after.all.doc_cited",
    "conversations.offline.after.all.doc_top",
    "conversations.offline.after.all.fact_recall",
    "conversations.fake_llm.after.all.doc_cited",
    "conversations.fake_llm.after.all.doc_top",
    "conversations.fake_llm.after.all.fact_recall",
    # The answer set (issue 17): offline figures mean what they say; the fake LLM's prose is
    # not an answer, so only its pipeline figures are gated.
    *(
        f"answers.offline.{split}.overall.{m}"
        for split in ("dev", "held_out")
        for m in (
            "fact_recall",
            "citation_precision",
            "groundedness",
            "abstention_accuracy",
            "calibration",
        )
    ),
    *(
        f"answers.fake_llm.all.overall.{m}"
        for m in ("citation_precision", "abstention_accuracy", "answered_rate")
    ),
    "routing_sgd.dev.top1",
    "routing_sgd.dev.with_self_calibration.accepted_accuracy",
    "routing_sgd.dev.with_self_calibration.coverage",
    "routing_sgd.heldout.top1",
    "routing_sgd.heldout.with_self_calibration.accepted_accuracy",
    "routing_sgd.heldout.with_self_calibration.coverage",
    "routing_sgd.few_examples_5.heldout.top1",
    "language.heldout.accuracy",
    "guard.sets.deepset.recall_at_fpr_5pct",
    "guard.sets.giskard.recall_at_fpr_5pct",
    "guard.sets.multilingual_heldout.recall_at_fpr_5pct",
    "guard.sets.obfuscated_spaced.recall_at_fpr_5pct",
    "guard.sets.obfuscated_homoglyphs.recall_at_fpr_5pct",
    "guard.sets.obfuscated_base64.recall_at_fpr_5pct",
    "guard.sets.taxonomy_heldout.recall_at_fpr_5pct",
    "guard.sets.jailbreaks_in_the_wild.recall_at_fpr_5pct",
    "guard.sets.prompt_extraction.recall_at_fpr_5pct",
    "guard.outside_benign.clinc150_test.pass_rate",
    "guard.outside_benign.clinc150_test.clean_rate",
    "guard.outside_benign.sgd_first_turns.pass_rate",
    "guard.outside_benign.sgd_first_turns.clean_rate",
)


def run_evals(  # noqa: PLR0915 (one block per part)
    data_root: Path,
    embedder: Embedder,
    cache_dir: Path,
    *,
    parts: Sequence[str] = ("clinc150", "scifact"),
    strategies: Sequence[str] = SHIPPED_STRATEGIES,
    quick: bool = False,
    agents_dir: Path = Path("agents"),
    cases: Path = Path("tests/data/behaviour.yaml"),
    sessions_data: Path = Path("tests/data/sessions.yaml"),
    conversations_data: Path = Path("tests/data/conversations.yaml"),
    answer_set: Path = Path("evals/answers/questions.yaml"),
    llm_settings: LLMSettings | None = None,
) -> dict[str, Any]:
    """Runs ``parts``; with an API key in ``llm_settings`` the answers part also runs Claude
    and the LLM judge (reported, never gated)."""
    cached = EmbeddingCache(embedder, cache_dir)
    report: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": embedder.model_id,
            "machine": f"{platform.machine()} {platform.python_version()}",
            "data_dir": str(data_root),
            "quick": quick,
        }
    }
    if "clinc150" in parts:
        from switchboard.devtools.evals.routing_clinc import evaluate_clinc

        try:
            clinc = load_clinc(data_root)
        except DatasetMissing as exc:
            report["clinc150"] = {"skipped": str(exc)}
            print(f"SKIPPED CLINC150 routing: {exc}")
        else:
            t0 = time.perf_counter()
            report["clinc150"] = evaluate_clinc(
                clinc, cached, latency_embedder=embedder, quick=quick
            )
            report["clinc150"]["seconds"] = round(time.perf_counter() - t0, 1)
    if "sgd" in parts:
        from switchboard.devtools.evals.routing_sgd import evaluate_sgd

        try:
            sgd = load_sgd(data_root)
        except DatasetMissing as exc:
            report["routing_sgd"] = {"skipped": str(exc)}
            print(f"SKIPPED SGD routing: {exc}")
        else:
            t0 = time.perf_counter()
            report["routing_sgd"] = evaluate_sgd(sgd, cached)
            report["routing_sgd"]["seconds"] = round(time.perf_counter() - t0, 1)
    if "guard" in parts:
        from switchboard.devtools.evals.guard_transfer import deployed_guard, evaluate_transfer

        # The shipped guard on the injection sets it was not trained on (absent: skipped).
        t0 = time.perf_counter()
        report["guard"] = evaluate_transfer(deployed_guard(cached), data_root)
        report["guard"]["seconds"] = round(time.perf_counter() - t0, 1)
    if "language" in parts:
        from switchboard.devtools.evals.language import evaluate_language

        # The written sample is in the repo; the English sets add false positives if present.
        report["language"] = evaluate_language(data_root)
    if "scifact" in parts:
        from switchboard.devtools.evals.retrieval import evaluate_scifact

        try:
            scifact = load_scifact(data_root)
        except DatasetMissing as exc:
            report["scifact"] = {"skipped": str(exc)}
            print(f"SKIPPED SciFact retrieval: {exc}")
        else:
            t0 = time.perf_counter()
            report["scifact"] = evaluate_scifact(scifact, cached, strategies)
            report["scifact"]["seconds"] = round(time.perf_counter() - t0, 1)
    if "behaviour" in parts:
        from switchboard.devtools.evals.behaviour_report import report_lines
        from switchboard.devtools.evals.behaviour_run import evaluate_local

        # Needs no dataset: the team's cases against a local offline stack of the agents.
        t0 = time.perf_counter()
        report["behaviour"] = evaluate_local(agents_dir, cases)
        report["behaviour"]["seconds"] = round(time.perf_counter() - t0, 1)
        print("\n".join(report_lines(report["behaviour"])))
    if "sessions" in parts:
        from switchboard.devtools.evals.routing import load_cards
        from switchboard.devtools.evals.sessions import evaluate_sessions, load_conversations

        # Needs no dataset either: the team's labelled conversations, the default rule.
        t0 = time.perf_counter()
        report["sessions"] = evaluate_sessions(
            load_conversations(sessions_data), load_cards(agents_dir, None), embedder
        )
        report["sessions"]["seconds"] = round(time.perf_counter() - t0, 1)
        with_rule = report["sessions"]["with_stickiness"]["turn_accuracy"]
        without = report["sessions"]["without_stickiness"]["turn_accuracy"]
        print(f"sessions: per-turn accuracy {with_rule:.3f} with stickiness, {without:.3f} without")
    if "conversations" in parts:
        report["conversations"] = _conversations(agents_dir, conversations_data, embedder, cached)
    if "answers" in parts:
        from switchboard.devtools.evals.answers_run import evaluate_answers, headline

        # Needs no dataset: the team's labelled questions against the real agents.
        t0 = time.perf_counter()
        report["answers"] = evaluate_answers(
            agents_dir, answer_set, embedder, ingest_embedder=cached, cache_dir=cache_dir,
            llm_settings=llm_settings,
        )  # fmt: skip
        report["answers"]["seconds"] = round(time.perf_counter() - t0, 1)
        print("\n".join(headline(report["answers"])))
    return report


def _conversations(
    agents_dir: Path, data: Path, embedder: Embedder, cached: Embedder
) -> dict[str, Any]:
    """Memory off vs on over the team's labelled conversations, offline and with the fake
    Messages API (no dataset needed; ingestion embeddings are cached)."""
    import asyncio

    from switchboard.devtools.evals.conversations import load_conversations, report_lines
    from switchboard.devtools.evals.conversations_run import (
        knowledge_stores,
        load_configs,
        run_modes,
    )

    t0 = time.perf_counter()
    configs = load_configs(agents_dir)
    stores = knowledge_stores(configs, cached)
    result = asyncio.run(run_modes(configs, stores, load_conversations(data), embedder))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print("\n".join(report_lines(result)))
    return result


def lookup(report: dict[str, Any], path: str) -> float | None:
    node: Any = report
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


@dataclass
class Comparison:
    regressions: list[str]
    checked: list[str]
    skipped: list[str]
    not_run: list[str] = field(default_factory=list)  # metrics of parts left out (--parts)

    @property
    def ok(self) -> bool:
        return not self.regressions


def compare(
    report: dict[str, Any], baseline: dict[str, Any], tolerance: float | None = None
) -> Comparison:
    """Each baseline metric against the report: a drop beyond the tolerance is a regression."""
    tol = float(baseline.get("tolerance", DEFAULT_TOLERANCE) if tolerance is None else tolerance)
    out = Comparison([], [], [])
    for path, expected in baseline.get("metrics", {}).items():
        actual = lookup(report, path)
        if actual is None and path.split(".", 1)[0] not in report:
            out.not_run.append(path)
            continue
        if actual is None:
            out.skipped.append(f"{path}: not in this report (dataset absent or part not run)")
            continue
        line = f"{path}: {actual:.4f} (baseline {float(expected):.4f})"
        if actual < float(expected) - tol:
            out.regressions.append(line + f" dropped more than {tol}")
        else:
            out.checked.append(line)
    return out


def baseline_from(
    report: dict[str, Any],
    tolerance: float = DEFAULT_TOLERANCE,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The gated metrics of ``report``; metrics it lacks (a part not run) keep their old value."""
    metrics = dict((previous or {}).get("metrics", {}))
    metrics.update({p: v for p in GATED if (v := lookup(report, p)) is not None})
    return {
        "tolerance": tolerance,
        "note": "Written by `switchboard eval run --update-baseline`; higher is better for all.",
        "metrics": metrics,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
