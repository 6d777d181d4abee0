"""What the behaviour suite reports: each case's outcome, and the pass rates.

Kept apart from the running so the report's shape (which ``make eval`` gates on, through
``behaviour.pass_rate``) can be built and checked from results alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from switchboard.devtools.evals.behaviour import Capability, Kind
from switchboard.v1 import supervisor_pb2


@dataclass
class CaseResult:
    id: str
    kind: Kind
    outcome: Literal["passed", "failed", "skipped"]
    reasons: list[str] = field(default_factory=list)
    status: str = ""
    agent: str = ""
    route_method: str = ""
    citations: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    reply: supervisor_pb2.AskResponse | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "outcome": self.outcome,
            "reasons": self.reasons,
            "status": self.status,
            "agent": self.agent,
            "route_method": self.route_method,
            "citations": self.citations,
            "latency_ms": round(self.latency_ms, 1),
            "prompt_version": self.reply.prompt_version if self.reply is not None else "",
        }


def _rate(passed: int, ran: int) -> float | None:
    return round(passed / ran, 4) if ran else None


def _versions(results: Sequence[CaseResult]) -> dict[str, int]:
    seen = Counter(r.reply.prompt_version for r in results if r.reply is not None)
    return {v: n for v, n in sorted(seen.items()) if v}


def summarise(
    results: Sequence[CaseResult], capabilities: Mapping[Capability, bool], **meta: Any
) -> dict[str, Any]:
    """The report: counts and pass rates (over the cases that ran), per kind and overall."""

    def counts(rs: Sequence[CaseResult]) -> dict[str, Any]:
        by = Counter(r.outcome for r in rs)
        ran = by["passed"] + by["failed"]
        return {
            "cases": len(rs),
            "ran": ran,
            "passed": by["passed"],
            "failed": by["failed"],
            "skipped": by["skipped"],
            "pass_rate": _rate(by["passed"], ran),
        }

    return {
        **meta,
        "capabilities": {c.value: ok for c, ok in capabilities.items()},
        **counts(results),
        "kinds": {k.value: counts([r for r in results if r.kind == k]) for k in Kind},
        # Which prompt versions answered (docs/prompts.md): runs compare like with like.
        "prompt_versions": _versions(results),
        "results": [r.as_dict() for r in results],
    }


def report_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per case, then the pass rates per kind and overall."""
    lines = [
        f"{r['outcome'].upper():8s} {r['kind']:9s} {r['id']}"
        + (": " + "; ".join(r["reasons"]) if r["reasons"] else "")
        for r in report["results"]
    ]
    for name, k in [*report["kinds"].items(), ("overall", report)]:
        rate = "-" if k["pass_rate"] is None else f"{k['pass_rate']:.2%}"
        lines.append(f"{name:9s} {k['passed']}/{k['ran']} passed ({rate}), {k['skipped']} skipped")
    return lines
