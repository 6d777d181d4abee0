"""``switchboard db`` and ``switchboard audit`` against a SQLite file."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from switchboard.cli.main import main
from switchboard.cli.store import format_table, parse_time
from switchboard.store import AuditEvent, AuditKind, AuditRecord, head_revision
from tests.harness.store import open_sqlite_store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("1h", NOW - timedelta(hours=1)),
        ("2d", NOW - timedelta(days=2)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-05-31T10:00:00", datetime(2026, 5, 31, 10, tzinfo=UTC)),
        ("2026-05-31T10:00:00Z", datetime(2026, 5, 31, 10, tzinfo=UTC)),
        ("2026-05-31T12:00:00+02:00", datetime(2026, 5, 31, 10, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


def test_parse_time_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        parse_time("yesterday")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_audit_without_a_database_says_so(data_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["audit"]) == 1
    assert "switchboard db upgrade" in capsys.readouterr().err
    assert not (data_dir / "switchboard.db").exists()


def test_db_upgrade_then_current(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["db", "purge"]) == 0
    assert "audit_events: 0 removed" in capsys.readouterr().out


async def _seed(data_dir: Path) -> None:
    store = await open_sqlite_store(data_dir)
    now = datetime.now(UTC)
    await store.audit.record_many(
        [
            AuditEvent(
                kind=AuditKind.ROUTE_DECISION,
                request_id="req-1",
                tenant="acme",
                agent="billing",
                outcome="routed",
                detail={"confidence": 0.91},
                time=now - timedelta(minutes=5),
            ),
            AuditEvent(
                kind=AuditKind.AGENT_CALL,
                request_id="req-1",
                tenant="acme",
                agent="billing",
                outcome="ANSWERED",
                time=now - timedelta(minutes=4),
            ),
            AuditEvent(
                kind=AuditKind.AUTH_FAILURE,
                outcome="UNAUTHENTICATED",
                time=now - timedelta(hours=3),
            ),
        ]
    )
    await store.close()


async def test_audit_prints_a_table_and_json_lines(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _seed(data_dir)
    # main() runs its own event loop, so call it from a worker thread.
    assert await asyncio.to_thread(main, ["audit", "--request-id", "req-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("time (UTC)")
    assert "route_decision" in lines[1] and "agent_call" in lines[2]  # oldest first
    assert '{"confidence":0.91}' in lines[1]

    assert await asyncio.to_thread(main, ["audit", "--since", "1h", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in records] == ["route_decision", "agent_call"]

    assert await asyncio.to_thread(main, ["audit", "--kind", "auth_failure", "--json"]) == 0
    [auth] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert auth["outcome"] == "UNAUTHENTICATED"

    assert await asyncio.to_thread(main, ["audit", "--limit", "1", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1

    assert await asyncio.to_thread(main, ["audit", "--kind", "nope"]) == 1
    assert "one of: route_decision" in capsys.readouterr().err


def test_format_table_clips_long_cells() -> None:
    record = AuditRecord(
        id=1, kind=AuditKind.REFUSAL, request_id="r" * 60, detail={"reason": "x" * 300}, time=NOW
    )
    table = format_table([record])
    assert "…" in table and len(table.splitlines()[1]) < 220
