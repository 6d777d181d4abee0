"""``switchboard eval routing``: the router on a labelled file, and thresholds fitted to it.

The file is JSONL (``{"text": ..., "agent": ...}``, no agent = out of scope); the agents are
the cards of ``agents/*/agent.yaml`` or of a supervisor agents file (:func:`load_cards`, which
the other evaluations and the benchmark use too). The CLINC150 evaluation is
:mod:`~switchboard.devtools.evals.routing_clinc`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.core.embeddings import Embedder
from switchboard.core.errors import ConfigurationError
from switchboard.core.types import AgentCard
from switchboard.devtools.evals.metrics import macro_f1
from switchboard.devtools.evals.routing_measures import score_vectors
from switchboard.supervisor.routing.calibration import RoutingCalibration, fit_calibration
from switchboard.supervisor.routing.index import EmbeddingIndex


@dataclass
class LabelledExample:
    text: str
    agent: str | None  # None: out of scope


def read_labelled(path: Path) -> list[LabelledExample]:
    """JSONL rows ``{"text": ..., "agent": ...}``; an empty or null agent is out of scope."""
    rows: list[LabelledExample] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, agent = row["text"], row.get("agent") or None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"{path}:{n}: expected {{text, agent}}: {exc}") from exc
        if not isinstance(text, str) or not text.strip():
            raise ConfigurationError(f"{path}:{n}: text must be a non-empty string")
        rows.append(LabelledExample(text, str(agent) if agent is not None else None))
    if not rows:
        raise ConfigurationError(f"{path} has no examples")
    return rows


def load_cards(agents_dir: Path | None, agents_file: Path | None) -> list[AgentCard]:
    """Cards from ``agents/*/agent.yaml`` or from a supervisor agents file's inline cards."""
    if agents_file is not None:
        from switchboard.supervisor.config import AgentsFile

        cards = [e.inline_card for e in AgentsFile.load(agents_file).agents]
        missing = [
            e.name
            for e, c in zip(AgentsFile.load(agents_file).agents, cards, strict=True)
            if c is None
        ]
        if missing:
            raise ConfigurationError(f"agents without an inline card: {', '.join(missing)}")
        return [c for c in cards if c is not None]
    from switchboard.agent.config import AgentConfig

    folder = agents_dir or Path("agents")
    configs = sorted(folder.glob("*/agent.yaml"))
    if not configs:
        raise ConfigurationError(f"no */agent.yaml under {folder}")
    return [AgentConfig.load(p).card() for p in configs]


def evaluate_labelled(
    examples: Sequence[LabelledExample],
    cards: Sequence[AgentCard],
    embedder: Embedder,
    *,
    target_accuracy: float = 0.95,
    max_in_scope_loss: float = 0.05,
) -> tuple[RoutingCalibration, dict[str, Any]]:
    """Fits thresholds on the examples and reports how the router does on them."""
    names = {c.name for c in cards}
    unknown = sorted({e.agent for e in examples if e.agent and e.agent not in names})
    if unknown:
        raise ConfigurationError(f"examples name unknown agents: {', '.join(unknown)}")
    index = EmbeddingIndex.build(cards, embedder)
    vectors = embedder.embed([e.text for e in examples])
    scored = score_vectors(
        index, vectors, [e.agent for e in examples], texts=[e.text for e in examples]
    )
    calibration = fit_calibration(
        scored, target_accuracy=target_accuracy, max_in_scope_loss=max_in_scope_loss
    )
    inside = scored.in_scope
    truth_in = [t for t in scored.truth if t is not None]
    pred_in = [p for p, i in zip(scored.pred, inside, strict=True) if i]
    report: dict[str, Any] = {
        "agents": sorted(names),
        "examples": len(examples),
        "card_temperature": round(index.temperature, 5),
        "top1_accuracy": round(float(scored.correct[inside].mean()), 4),
        "macro_f1": round(macro_f1(truth_in, pred_in, sorted(names)), 4),
        "thresholds": calibration.settings_values(),
        "fit": calibration.fitted_on,
    }
    return calibration, report
