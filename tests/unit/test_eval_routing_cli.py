"""`switchboard eval routing` on a tiny labelled file with the demo agents' cards."""

from __future__ import annotations

import json
from pathlib import Path

from switchboard.cli.main import main
from switchboard.supervisor.routing.calibration import RoutingCalibration
from tests.conftest import AGENTS_DIR

EXAMPLES = [
    ("I was charged twice for my subscription", "billing"),
    ("Can I get an invoice with our VAT number?", "billing"),
    ("How do I upgrade to the Business plan?", "billing"),
    ("The mobile app crashes when I open a project", "support"),
    ("Slack integration stopped posting updates", "support"),
    ("API returns 429 too many requests", "support"),
    ("I can't sign in after resetting my password", "account"),
    ("How do I enable two-factor authentication?", "account"),
    ("Where can I see the audit log?", "account"),
    ("What's the capital of Australia?", ""),
    ("Give me a recipe for lasagna", ""),
]


def test_eval_routing_fits_and_writes_thresholds(tmp_path: Path, capsys) -> None:
    data = tmp_path / "labelled.jsonl"
    data.write_text(
        "\n".join(json.dumps({"text": t, "agent": a}) for t, a in EXAMPLES) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "routing.yaml"
    code = main(
        ["eval", "routing", "--data", str(data), "--agents-dir", str(AGENTS_DIR),
         "--write-config", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(printed[: printed.rindex("}") + 1])
    assert report["examples"] == len(EXAMPLES) and report["top1_accuracy"] >= 0.8
    fitted = RoutingCalibration.load(out)
    assert 0 <= fitted.route_accept_confidence <= 1
    assert fitted.fitted_on["out_of_scope_examples"] == 2
    assert fitted.fitted_on["out_of_scope_recall"] == 1.0
    assert fitted.route_min_similarity == fitted.route_out_of_scope_similarity


def test_eval_routing_rejects_unknown_agents(tmp_path: Path, capsys) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"text": "hello", "agent": "marketing"}) + "\n", encoding="utf-8")
    assert main(["eval", "routing", "--data", str(data), "--agents-dir", str(AGENTS_DIR)]) == 2
    assert "unknown agents: marketing" in capsys.readouterr().err
