"""What the console's pages show, computed from Review messages (no HTML here)."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote as _quote

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from switchboard.v1 import common_pb2, review_pb2

KIND_NAMES = {
    common_pb2.REVIEW_KIND_ESCALATION: "escalation",
    common_pb2.REVIEW_KIND_APPROVAL: "approval",
    common_pb2.REVIEW_KIND_SAMPLE: "sample",
}
STATE_NAMES = {
    common_pb2.REVIEW_STATE_OPEN: "open",
    common_pb2.REVIEW_STATE_RESOLVED: "resolved",
    common_pb2.REVIEW_STATE_CLOSED: "closed",
    common_pb2.REVIEW_STATE_EXPIRED: "expired",
}
STATUS_NAMES = {v.number: v.name for v in common_pb2.Status.DESCRIPTOR.values}


def quote(text: str) -> str:
    return _quote(text, safe="")


def problem(exc: grpc.aio.AioRpcError) -> str:
    """A gRPC error as a person reads it."""
    return f"{exc.code().name}: {exc.details()}"


def seconds_since(stamp: Timestamp) -> float:
    if not stamp.seconds:
        return 0.0
    return (datetime.now(UTC) - stamp.ToDatetime(tzinfo=UTC)).total_seconds()


def age(stamp: Timestamp) -> str:
    """How long ago, short: 42s, 7m, 3h, 2d."""
    s = seconds_since(stamp)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def when(stamp: Timestamp) -> str:
    if not stamp.seconds:
        return "-"
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")


def counts(rows: Iterable[review_pb2.ItemCount]) -> dict[str, dict[str, int]]:
    """{kind: {state: n}}, with an "all" kind."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        kind, state = KIND_NAMES.get(row.kind, "?"), STATE_NAMES.get(row.state, "?")
        table[kind][state] += row.count
        table["all"][state] += row.count
    return {k: dict(v) for k, v in table.items()}


def trace_url(base: str, trace_id: str) -> str:
    return f"{base.rstrip('/')}/trace/{trace_id}" if base and trace_id else ""


@dataclass
class ItemView:
    kind: str
    state: str
    status: str
    result_status: str
    arguments: str
    candidates: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def of(cls, item: review_pb2.ReviewItem) -> ItemView:
        arguments = item.draft.pending_action.arguments_json
        with contextlib.suppress(ValueError):
            arguments = json.dumps(json.loads(arguments), indent=2) if arguments else ""
        return cls(
            kind=KIND_NAMES.get(item.kind, "?"),
            state=STATE_NAMES.get(item.state, "?"),
            status=STATUS_NAMES.get(item.draft.status, "?"),
            result_status=STATUS_NAMES.get(item.result.status, "?"),
            arguments=arguments,
            candidates=[(c.agent, c.score) for c in item.draft.route.candidates],
        )


@dataclass
class Bar:
    label: str
    value: float
    text: str
    height: float  # 0..1 of the chart


@dataclass
class Chart:
    title: str
    agent: str
    bars: list[Bar]


def charts(days: Iterable[review_pb2.AgentDay]) -> list[Chart]:
    """Two charts per agent: the share of positive feedback and the cost, per day."""
    by_agent: dict[str, list[review_pb2.AgentDay]] = defaultdict(list)
    for day in days:
        by_agent[day.agent].append(day)
    out: list[Chart] = []
    for agent, rows in sorted(by_agent.items()):
        rated = [r for r in rows if r.feedback]
        out.append(
            Chart(
                "positive feedback",
                agent,
                [
                    Bar(
                        r.day[5:],
                        r.positive / r.feedback,
                        f"{r.positive}/{r.feedback}",
                        r.positive / r.feedback,
                    )
                    for r in rated
                ],
            )
        )
        top = max((r.cost_usd for r in rows), default=0.0) or 1.0
        out.append(
            Chart(
                "cost (USD)",
                agent,
                [
                    Bar(r.day[5:], r.cost_usd, f"${r.cost_usd:.3f} / {r.calls}", r.cost_usd / top)
                    for r in rows
                ],
            )
        )
    return out
