"""The guard on the security cases the team wrote (``tests/data/security/guard_cases.jsonl``).

Tricky but benign customer text ("Refund BL-2025-004217 again"), German and Spanish role-play
and exfiltration attempts, and planted instructions that read like documentation, each marked
``dev`` (rules and training examples were tuned looking at these) or ``heldout`` (never looked
at while tuning; report it separately: it is the figure that means something). User text is
screened as the caller's request, documents as retrieved passages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from switchboard.guard.detector import Guard

CASES = Path(__file__).resolve().parents[4] / "tests" / "data" / "security" / "guard_cases.jsonl"


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate_cases(guard: Guard, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per split and source: benign false-positive rate and injection recall."""
    out: dict[str, Any] = {}
    for split in sorted({c["split"] for c in cases}):
        for source in ("user", "retrieved"):
            rows = [c for c in cases if c["split"] == split and c["source"] == source]
            if not rows:
                continue
            verdicts = [guard.screen(c["text"], source) for c in rows]
            benign = [v.blocked for c, v in zip(rows, verdicts, strict=True) if c["label"] == 0]
            attacks = [v.blocked for c, v in zip(rows, verdicts, strict=True) if c["label"] == 1]
            entry: dict[str, Any] = {
                "benign": len(benign),
                "fpr": round(sum(benign) / len(benign), 4) if benign else None,
                "injections": len(attacks),
                "recall": round(sum(attacks) / len(attacks), 4) if attacks else None,
            }
            if split != "heldout":  # the dev split's misses are for whoever tunes the guard
                entry["wrong"] = [
                    {"text": c["text"][:90], "label": c["label"], "reason": v.reason}
                    for c, v in zip(rows, verdicts, strict=True)
                    if v.blocked != bool(c["label"])
                ]
            out[f"{split}/{source}"] = entry
    return out
