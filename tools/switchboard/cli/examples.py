"""``switchboard examples``: review routing examples learned from traffic, then apply them.

The supervisor records candidates (``switchboard.store.examples``); a person reviews them:

    switchboard examples list --status unresolved     # clarified / escalated requests
    switchboard examples confirm REQUEST_ID billing   # a person names the right agent
    switchboard examples list --status pending
    switchboard examples accept 3 7                   # or: reject 5
    switchboard examples apply --agents-dir agents    # writes accepted ones to agent.yaml

``apply`` appends each accepted text to its agent's ``examples:`` list (skipping ones already
there, ignoring case and spacing), leaves the rest of the file as it was, checks the result
still loads, and marks the candidates applied. Nothing reaches routing before that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switchboard.core.errors import CallerError, ConfigurationError, RuntimeFailure

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only when a command runs
    from switchboard.store.database import Store
    from switchboard.store.examples import Candidate

STATUSES = ("unresolved", "pending", "accepted", "rejected", "applied")  # CandidateStatus

SYNC_NOTE = (
    "Run `make k8s-config` to sync deploy/k8s/base/config, and restart (or redeploy) the "
    "agents so their cards carry the new examples (inline cards in a supervisor agents file "
    "are not changed)."
)


def add_parser(sub: Any) -> None:
    """Adds ``examples`` and its actions to the ``switchboard`` command."""
    e = sub.add_parser("examples", help="review routing examples learned from traffic")
    e.add_argument("--database-url", help="overrides DATABASE_URL")
    esub = e.add_subparsers(dest="examples_action", required=True)

    ls = esub.add_parser("list", help="candidates, oldest first")
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--agent")
    ls.add_argument("--limit", type=int, default=200)
    ls.add_argument("--json", action="store_true", help="print JSON lines")

    c = esub.add_parser("confirm", help="name the agent a clarified or escalated request needed")
    c.add_argument("request_id")
    c.add_argument("agent")
    c.add_argument("--tenant", help="needed when several tenants used the same request id")
    c.add_argument("--agents-dir", type=Path, default=Path("agents"),
                   help="agent configs, to check the name (default agents)")  # fmt: skip

    for action, text in (("accept", "accept pending candidates"), ("reject", "reject them")):
        r = esub.add_parser(action, help=text)
        r.add_argument("ids", nargs="+", type=int, help="candidate ids (from `examples list`)")

    a = esub.add_parser("apply", help="write accepted candidates into the agents' agent.yaml")
    a.add_argument("--agents-dir", type=Path, default=Path("agents"))
    a.add_argument("--dry-run", action="store_true", help="show what would be added")


def run_examples_command(args: argparse.Namespace) -> int:
    """Runs ``switchboard examples ...``; exit code 1 on errors."""
    try:
        return asyncio.run(_run(args))
    except (RuntimeFailure, CallerError, ConfigurationError) as exc:  # StoreError included
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace) -> int:
    from switchboard.devtools.settings import ToolSettings
    from switchboard.store.database import Store
    from switchboard.store.examples import CandidateStatus
    from switchboard.store.settings import sqlite_path

    settings, url = ToolSettings().store_for(args.database_url)
    path = sqlite_path(url)
    if path is not None and not await asyncio.to_thread(path.exists):
        raise ConfigurationError(f"no database at {path} (run `switchboard db upgrade`)")
    store = await Store.open(settings, url=url, upgrade=False)
    try:
        action = args.examples_action
        if action == "list":
            status = CandidateStatus(args.status) if args.status else None
            found = await store.examples.query(status=status, agent=args.agent, limit=args.limit)
            _print_candidates(found, as_json=args.json)
        elif action == "confirm":
            known = agent_configs(args.agents_dir)
            if known and args.agent not in known:
                raise ConfigurationError(
                    f"unknown agent {args.agent!r}; agents in {args.agents_dir}: "
                    + ", ".join(sorted(known))
                )
            done = await store.examples.confirm(args.request_id, args.agent, tenant=args.tenant)
            print(f"candidate {done.id} ({done.request_id}) is pending review for {done.agent}")
        elif action in ("accept", "reject"):
            reviewed = await store.examples.review(args.ids, accept=action == "accept")
            for c in reviewed:
                print(f"candidate {c.id}: {c.status} ({c.agent}: {_clip(c.text, 70)})")
        else:
            await _apply(store, args.agents_dir, dry_run=args.dry_run)
    finally:
        await store.close()
    return 0


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_candidates(found: Sequence[Candidate], *, as_json: bool) -> None:
    if as_json:
        for c in found:
            print(c.model_dump_json())
        return
    if not found:
        print("no candidates match", file=sys.stderr)
        return
    print(f"{'id':>5}  {'status':<10}  {'agent':<10}  {'source':<6}  {'outcome':<12}  "
          f"{'created (UTC)':<16}  {'request_id':<20}  text")  # fmt: skip
    for c in found:
        print(
            f"{c.id:>5}  {c.status.value:<10}  {c.agent or '-':<10}  "
            f"{c.source.value if c.source else '-':<6}  {c.outcome:<12}  "
            f"{c.created_at:%Y-%m-%d %H:%M}  {_clip(c.request_id, 20):<20}  {_clip(c.text, 80)}"
        )


# --------------------------------------------------------------------------- apply


def agent_configs(agents_dir: Path) -> dict[str, Path]:
    """Agent name -> its agent.yaml, for every ``*/agent.yaml`` under ``agents_dir``."""
    import yaml

    out: dict[str, Path] = {}
    for path in sorted(agents_dir.glob("*/agent.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read {path}: {exc}") from exc
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            out[raw["name"]] = path
    return out


def normalise(text: str) -> str:
    """What counts as the same example: case and spacing ignored."""
    return " ".join(text.split()).casefold()


@dataclass
class ApplyResult:
    path: Path
    added: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)


def add_examples(path: Path, texts: Sequence[str], *, dry_run: bool = False) -> ApplyResult:
    """Appends ``texts`` to the ``examples:`` list of an agent.yaml, skipping duplicates.

    Only lines are inserted (one double-quoted item each, in the list's indentation), so
    comments and the rest of the file stay as written; the result must load with the same
    examples plus the new ones, or the file is left unchanged.
    """
    from switchboard.agent.config import AgentConfig

    original = path.read_text(encoding="utf-8")
    before = AgentConfig.load(path).examples
    seen = {normalise(e) for e in before}
    result = ApplyResult(path)
    for text in texts:
        key = normalise(text)
        if key in seen:
            result.already_there.append(text)
        else:
            seen.add(key)
            result.added.append(" ".join(text.split()))
    if not result.added or dry_run:
        return result
    updated = _insert_items(original, result.added, path)
    path.write_text(updated, encoding="utf-8")
    try:
        after = AgentConfig.load(path).examples
        if after != [*before, *result.added]:
            raise ConfigurationError(f"{path}: examples did not come out as expected")
    except ConfigurationError:
        path.write_text(original, encoding="utf-8")
        raise
    return result


_KEY = re.compile(r"^examples:[ \t]*(?P<rest>[^\n#]*?)[ \t]*(?:#[^\n]*)?$", re.MULTILINE)
_ITEM = re.compile(r"^(?P<indent>[ \t]*)- ")


def _insert_items(source: str, items: Sequence[str], path: Path) -> str:
    lines = [json.dumps(t, ensure_ascii=False) for t in items]
    match = _KEY.search(source)
    if match is None:  # no examples yet: a new block at the end
        tail = "" if source.endswith("\n") or not source else "\n"
        return source + tail + "examples:\n" + "".join(f"  - {v}\n" for v in lines)
    rest = match["rest"].strip()
    if rest == "[]":
        block = "examples:\n" + "".join(f"  - {v}\n" for v in lines)
        end = match.end() + (1 if source[match.end() : match.end() + 1] == "\n" else 0)
        return source[: match.start()] + block + source[end:]
    if rest:
        raise ConfigurationError(
            f"{path}: write `examples:` as a block list (one `- item` per line) to apply"
        )
    key_line, newline, body = source[match.end() :].partition("\n")
    cursor = insert_at = match.end() + len(key_line) + len(newline)
    indent: str | None = None
    for line in body.splitlines(keepends=True):
        stripped = line.strip()
        content = bool(stripped) and not stripped.startswith("#")
        if content and not line[0].isspace() and not line.startswith("-"):
            break  # the next top-level key
        cursor += len(line)
        if content:
            insert_at = cursor  # after the last item (or its continuation lines)
            if indent is None and (item := _ITEM.match(line)):
                indent = item["indent"]
    prefix = source[:insert_at]
    if prefix and not prefix.endswith("\n"):
        prefix += "\n"
    block = "".join(f"{indent if indent is not None else '  '}- {v}\n" for v in lines)
    return prefix + block + source[insert_at:]


async def _apply(store: Store, agents_dir: Path, *, dry_run: bool) -> None:
    from switchboard.store.examples import CandidateStatus

    accepted = await store.examples.query(status=CandidateStatus.ACCEPTED, limit=100_000)
    if not accepted:
        print("no accepted candidates to apply")
        return
    configs = agent_configs(agents_dir)
    by_agent: dict[str, list[Candidate]] = {}
    for c in accepted:
        by_agent.setdefault(c.agent or "", []).append(c)
    changed = False
    for agent, candidates in sorted(by_agent.items()):
        path = configs.get(agent)
        if path is None:
            print(f"{agent or '?'}: no agent.yaml under {agents_dir}; "
                  f"{len(candidates)} candidate(s) left accepted")  # fmt: skip
            continue
        result = await asyncio.to_thread(
            add_examples, path, [c.text for c in candidates], dry_run=dry_run
        )
        verb = "would add" if dry_run else "added"
        print(f"{agent}: {verb} {len(result.added)}, {len(result.already_there)} already there "
              f"-> {path}")  # fmt: skip
        for text in result.added:
            print(f"  + {text}")
        if not dry_run:
            await store.examples.mark_applied([c.id for c in candidates])
            changed = changed or bool(result.added)
    if changed:
        print(SYNC_NOTE)
