"""Feedback compared per prompt version: ``switchboard feedback report --by-version`` and
``switchboard prompts list`` read the version each rating was joined to."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from switchboard.cli.main import main
from tests.harness.store import open_data_dir_store


async def seed(data_dir: Path) -> None:
    store = await open_data_dir_store(data_dir, upgrade=True)
    try:
        for text in ("You are billing, version one.", "You are billing, version two."):
            await store.prompts.create(
                agent="billing", system_prompt=text, rules="r", model="m",
                params={"max_tokens": 700}, author="alice", note=text[-12:],
            )  # fmt: skip
        await store.prompts.move("billing", "production", to=2, expect_revision=0, actor="a")
        ratings = [("billing@v1", 1), ("billing@v1", -1), ("billing@v2", 1), (None, 1)]
        for n, (version, thumb) in enumerate(ratings):
            await store.feedback.give(
                tenant="acme", request_id=f"r{n}", thumb=thumb, score=None, comment="",
                agent="billing", route_method="embedding", status="ANSWERED",
                given_by="acme/caller", prompt_version=version,
            )  # fmt: skip
    finally:
        await store.close()


def test_feedback_per_prompt_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    asyncio.run(seed(tmp_path))

    assert main(["feedback", "report", "--by-version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["billing", "billing@v1", "2", "50%"]
    assert lines[2].split() == ["billing", "billing@v2", "1", "100%"]
    assert len(lines) == 3  # a rating with no version is not counted for any

    assert main(["prompts", "--actor", "alice", "list", "billing"]) == 0
    out = capsys.readouterr().out
    assert "billing: production -> v2" in out
    assert "feedback 50% of 2" in out and "feedback 100% of 1" in out
