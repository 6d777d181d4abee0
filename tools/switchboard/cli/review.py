"""``switchboard gaps``, ``switchboard feedback report`` and ``switchboard review export``.

Reports for the people who improve the system, read from the store (like ``switchboard
examples``) with the same grouping and sums the console shows (``supervisor.review.reports``):

* ``gaps``: questions people answered because an agent's documents lacked them, per agent,
  grouped by similarity, with counts: which document to write next;
* ``feedback report``: positive-feedback rate, agent calls and cost per agent and day;
* ``review export``: reviewer verdicts on sampled answers as labelled evaluation data: the
  answers judged correct as behaviour cases (the format ``make eval`` and ``switchboard eval
  behaviour`` read), every verdict with its note as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a command runs: building the parser stays cheap
    from switchboard.store import ReviewItem, Store


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = sub.add_parser("gaps", help="unanswered topics per agent, grouped, with counts")
    g.add_argument("--agent", help="only this agent")
    g.add_argument("--tenant", help="only this tenant")
    g.add_argument("--days", type=float, default=30.0)
    g.add_argument("--database-url", help="instead of DATABASE_URL / the SQLite data dir")

    f = sub.add_parser("feedback", help="feedback on answers")
    fs = f.add_subparsers(dest="feedback_action", required=True)
    fr = fs.add_parser("report", help="positive-feedback rate and cost per agent and day")
    fr.add_argument("--days", type=int, default=14)
    fr.add_argument("--tenant", help="only this tenant")
    fr.add_argument(
        "--by-version", action="store_true", help="rates per agent and prompt version instead"
    )
    fr.add_argument("--database-url", help="instead of DATABASE_URL / the SQLite data dir")

    r = sub.add_parser("review", help="the review inbox's labelled data")
    rs = r.add_subparsers(dest="review_action", required=True)
    ex = rs.add_parser("export", help="reviewer verdicts as evaluation data")
    ex.add_argument("--cases", type=Path, default=Path("build/review-cases.yaml"))
    ex.add_argument("--verdicts", type=Path, default=Path("build/review-verdicts.jsonl"))
    ex.add_argument("--database-url", help="instead of DATABASE_URL / the SQLite data dir")


def run_review_command(args: argparse.Namespace) -> int:
    from switchboard.store import StoreError

    try:
        return asyncio.run(_run(args))
    except StoreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace) -> int:
    from switchboard.devtools.settings import ToolSettings
    from switchboard.store import Store

    settings, url = ToolSettings().store_for(args.database_url)
    store = await Store.open(settings, url=url, upgrade=False)
    try:
        if args.command == "gaps":
            return await _gaps(store, args)
        if args.command == "feedback":
            return await _feedback(store, args)
        return await _export(store, args)
    finally:
        await store.close()


async def _gaps(store: Store, args: argparse.Namespace) -> int:
    from switchboard.supervisor.review.reports import group_gaps

    gaps = await store.gaps.query(tenant=args.tenant, agent=args.agent, days=args.days)
    groups = group_gaps(gaps)
    if not groups:
        print(f"no knowledge gaps recorded in the last {args.days:g} days")
        return 0
    print(f"{'agent':<10} {'count':>5}  topic (the most typical question)")
    for g in groups:
        print(f"{g.agent:<10} {g.count:>5}  {g.representative[:90]}")
        for question in g.questions[1:4]:
            print(f"{'':<18}- {question[:86]}")
    return 0


async def _feedback(store: Store, args: argparse.Namespace) -> int:
    from switchboard.supervisor.review.reports import agent_days

    if args.by_version:
        return await _feedback_by_version(store, args)
    days = await agent_days(store.feedback, store.audit, days=args.days, tenant=args.tenant)
    if not days:
        print(f"no feedback or agent calls in the last {args.days} days")
        return 0
    print(f"{'day':<11} {'agent':<10} {'ratings':>7} {'positive':>8} {'calls':>6} {'cost USD':>9}")
    for d in days:
        rate = f"{d.rate:.0%}" if d.rate is not None else "-"
        print(
            f"{d.day.isoformat():<11} {d.agent:<10} {d.feedback:>7} {rate:>8} {d.calls:>6} "
            f"{d.cost_usd:>9.4f}"
        )
    return 0


async def _feedback_by_version(store: Store, args: argparse.Namespace) -> int:
    """Positive rate per prompt version, so a prompt change shows in what users say."""
    rows = []
    for agent in await store.prompts.agents():
        rates = await store.prompts.feedback(agent, days=args.days, tenant=args.tenant)
        rows += [(agent, version, fb) for version, fb in rates.items()]
    if not rows:
        print(f"no feedback with a prompt version in the last {args.days} days")
        return 0
    print(f"{'agent':<10} {'prompt version':<22} {'ratings':>7} {'positive':>8}")
    for agent, version, fb in rows:
        print(f"{agent:<10} {version:<22} {fb.count:>7} {fb.rate:>8.0%}")
    return 0


def case_of(item: ReviewItem) -> dict[str, object] | None:
    """A behaviour case from an answer a reviewer judged correct (None otherwise)."""
    from switchboard.supervisor.results import AskResult

    if item.verdict != "correct" or not item.agent:
        return None
    draft = AskResult.model_validate(item.draft)
    case: dict[str, object] = {
        "id": f"review-{item.id[:12]}",
        "kind": "answer",
        "text": item.question,
        "agent": item.agent,
        "note": f"sampled answer judged correct by {item.resolved_by}",
    }
    if draft.citations:
        case["cites"] = [draft.citations[0].source_id]
    return case


async def _export(store: Store, args: argparse.Namespace) -> int:
    import yaml

    from switchboard.store import ItemKind, ItemState
    from switchboard.supervisor.results import AskResult

    judged: list[ReviewItem] = []
    after = None
    while True:
        page = await store.review.query(
            kind=ItemKind.SAMPLE, state=ItemState.RESOLVED, after=after, limit=500
        )
        judged += [i for i in page if i.verdict]
        if len(page) < 500:
            break
        after = (page[-1].created_at, page[-1].id)
    cases = [c for c in map(case_of, judged) if c is not None]
    args.cases.parent.mkdir(parents=True, exist_ok=True)
    args.cases.write_text(
        "# Answers reviewers judged correct (switchboard review export): regression cases.\n"
        + yaml.safe_dump({"version": 1, "cases": cases}, sort_keys=False, allow_unicode=True)
    )
    args.verdicts.parent.mkdir(parents=True, exist_ok=True)
    with args.verdicts.open("w", encoding="utf-8") as out:
        for item in judged:
            draft = AskResult.model_validate(item.draft)
            row = {
                "item_id": item.id,
                "tenant": item.tenant,
                "request_id": item.request_id,
                "agent": item.agent,
                "question": item.question,
                "answer": draft.answer,
                "citations": [c.source_id for c in draft.citations],
                "verdict": item.verdict,
                "note": (item.resolution or {}).get("reason", ""),
                "by": item.resolved_by,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(
        f"{len(judged)} verdicts -> {args.verdicts}; {len(cases)} behaviour cases -> {args.cases}"
    )
    return 0
