"""``switchboard gaps``, ``feedback report`` and ``review export`` over a seeded SQLite store;
the exported cases load as behaviour cases (the format ``make eval`` reads)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from switchboard.cli.main import main
from switchboard.core.audit import utcnow
from switchboard.core.types import Citation, Outcome
from switchboard.devtools.evals.behaviour import load_cases
from switchboard.store import ItemKind, ItemState, NewItem
from switchboard.supervisor.results import AskResult
from tests.harness.store import open_data_dir_store


async def seed(data_dir: Path) -> None:
    store = await open_data_dir_store(data_dir, upgrade=True)
    try:
        for n, verdict in enumerate(("correct", "wrong", "correct")):
            draft = AskResult(
                request_id=f"s{n}",
                outcome=Outcome.ANSWERED,
                answer=f"answer {n}",
                agent="billing",
                citations=[
                    Citation(source_id="refund-policy.md", title="t", snippet="", score=0.6)
                ],
            )
            item = await store.review.add(
                NewItem(
                    tenant="acme",
                    request_id=f"s{n}",
                    agent="billing",
                    kind=ItemKind.SAMPLE,
                    reason="sampled",
                    question=f"How do refunds work, take {n}?",
                    draft=draft.model_dump(mode="json"),
                    expires_at=utcnow() + timedelta(days=1),
                )
            )
            assert item is not None
            await store.review.finish(
                item.id,
                "acme/rita",
                state=ItemState.RESOLVED,
                resolution={"action": "verdict", "reason": f"note {n}"},
                result=None,
                verdict=verdict,
            )
        for n, vector in enumerate(([1, 0, 0], [0.97, 0.1, 0], [0, 1, 0])):
            await store.gaps.add(
                tenant="acme",
                agent="support",
                request_id=f"g{n}",
                question=f"okta question {n}" if n < 2 else "fax question",
                answer="an answer",
                vector=np.asarray(vector, np.float32),
            )
        await store.feedback.give(
            tenant="acme",
            request_id="s0",
            thumb=1,
            score=None,
            comment="",
            agent="billing",
            route_method="embedding",
            status="ANSWERED",
            given_by="acme/caller",
        )
    finally:
        await store.close()


def test_reports_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    asyncio.run(seed(tmp_path))

    assert main(["gaps"]) == 0
    out = capsys.readouterr().out
    assert "support        2  okta question" in out and "fax question" in out

    assert main(["feedback", "report", "--days", "2"]) == 0
    report = capsys.readouterr().out
    assert "billing" in report and "100%" in report

    cases, verdicts = tmp_path / "cases.yaml", tmp_path / "verdicts.jsonl"
    assert main(["review", "export", "--cases", str(cases), "--verdicts", str(verdicts)]) == 0
    loaded = load_cases(cases)
    assert len(loaded) == 2 and {c.agent for c in loaded} == {"billing"}
    assert all(c.cites == ("refund-policy.md",) for c in loaded)
    lines = verdicts.read_text().splitlines()
    assert len(lines) == 3 and '"verdict": "wrong"' in "".join(lines)
