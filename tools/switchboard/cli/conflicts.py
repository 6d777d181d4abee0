"""``switchboard ingest`` with several agents: print and write the knowledge-conflict report."""

from __future__ import annotations

import json
from pathlib import Path

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.conflicts import conflicts_of
from switchboard.agent.settings import AgentSettings


def print_conflicts(paths: list[Path], settings: AgentSettings, out: Path) -> int:
    """Prints each conflict, writes them all to ``out`` (JSON); returns how many."""
    configs = [AgentConfig.load(p) for p in paths]
    found = conflicts_of(configs, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"agents": [c.name for c in configs], "conflicts": [c.as_dict() for c in found]},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    if found:
        print(f"WARNING: {len(found)} knowledge conflict(s) between agents (written to {out}):")
        for conflict in found:
            print(conflict.line())
    else:
        print(f"knowledge conflicts: none between {', '.join(c.name for c in configs)} ({out})")
    return len(found)
