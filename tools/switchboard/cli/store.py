"""``switchboard audit`` and ``switchboard db``: the parsers live in ``switchboard.cli.main``."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from switchboard.devtools.settings import ToolSettings
from switchboard.store.audit import AuditKind, AuditRecord
from switchboard.store.database import Store
from switchboard.store.errors import StoreError
from switchboard.store.migrate import current_revision, head_revision, migrate
from switchboard.store.settings import StoreSettings, safe_url, sqlite_path

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_time(value: str, *, now: datetime | None = None) -> datetime:
    """``90s``, ``15m``, ``1h``, ``2d``, ``1w`` ago, or an ISO 8601 time (naive means UTC)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(value)
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2].lower()])
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a duration (1h, 30m, 2d) or an ISO time: {value!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _settings(args: argparse.Namespace) -> tuple[StoreSettings, str]:
    return ToolSettings().store_for(getattr(args, "database_url", None))


def _clip(text: str | None, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(records: Sequence[AuditRecord]) -> str:
    """A fixed-width table, oldest first, one event per line."""
    header = ("time (UTC)", "kind", "tenant", "request_id", "agent", "outcome", "detail")
    widths = (23, 14, 12, 20, 10, 12, 0)
    rows = [header]
    for r in records:
        detail = json.dumps(r.detail, separators=(",", ":"), sort_keys=True, default=str)
        rows.append(
            (
                r.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:23],
                r.kind.value,
                _clip(r.tenant, 12),
                _clip(r.request_id, 20),
                _clip(r.agent, 10),
                _clip(r.outcome, 12),
                _clip(detail, 100),
            )
        )
    lines = [
        "  ".join(cell.ljust(w) if w else cell for cell, w in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _kind(value: str) -> AuditKind:
    try:
        return AuditKind(value.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in AuditKind)
        raise ValueError(f"unknown kind {value!r}; one of: {kinds}") from None


async def _audit(args: argparse.Namespace) -> int:
    settings, url = _settings(args)
    path = sqlite_path(url)
    if path is not None and not await asyncio.to_thread(path.exists):
        print(f"error: no audit database at {path} (run `switchboard db upgrade`)", file=sys.stderr)
        return 1
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    kind = _kind(args.kind) if args.kind else None
    store = await Store.open(settings, url=url, upgrade=False)
    try:
        records = await store.audit.query(
            request_id=args.request_id,
            kind=kind,
            tenant=args.tenant,
            agent=args.agent,
            trace_id=args.trace_id,
            since=since,
            until=until,
            limit=args.limit,
        )
    finally:
        await store.close()
    records.reverse()  # the newest N, printed oldest first
    if args.json:
        for r in records:
            print(r.model_dump_json())
    elif records:
        print(format_table(records))
    else:
        print("no audit events match", file=sys.stderr)
    return 0


async def _db(args: argparse.Namespace) -> int:
    settings, url = _settings(args)
    if args.action == "upgrade":
        path = sqlite_path(url)
        if path is not None:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await migrate(url)
        print(f"{safe_url(url)} is at revision {await current_revision(url)}")
    elif args.action == "current":
        current, head = await current_revision(url), head_revision()
        state = "up to date" if current == head else f"head is {head}"
        print(f"{safe_url(url)}: revision {current or 'none'} ({state})")
    else:
        store = await Store.open(settings, url=url, upgrade=False)
        try:
            removed = await store.purge()
        finally:
            await store.close()
        print(", ".join(f"{table}: {n} removed" for table, n in removed.items()))
    return 0


def run_store_command(args: argparse.Namespace) -> int:
    """Runs ``audit`` or ``db`` from parsed arguments; exit code 1 on store errors."""
    try:
        return asyncio.run(_audit(args) if args.command == "audit" else _db(args))
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
