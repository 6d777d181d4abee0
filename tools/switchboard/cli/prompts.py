"""``switchboard prompts list|show|diff|create|label|promote|rollback|history`` (docs/prompts.md).

Reads and writes the prompt registry in the store (``DATABASE_URL`` / the SQLite data dir,
or ``--database-url``). Every label move is compare-and-set on the revision read just
before it, so two people moving the same label cannot silently overwrite each other.
``production`` moves only through ``promote`` (the evaluation gate) or ``rollback``;
``label --force --reason`` is the audited way around it.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import getpass
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from switchboard.core.errors import SwitchboardError

if TYPE_CHECKING:  # imported when a command runs: building the parser stays cheap
    from switchboard.cli.prompt_moves import RunnerFactory
    from switchboard.store import PromptVersion, Store

PROTECTED = "production"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prompts", help="versioned prompts: labels, promotion, rollback")
    p.add_argument("--database-url", help="instead of DATABASE_URL / the SQLite data dir")
    p.add_argument("--actor", default="", help="who does this (default: the OS user)")
    ps = p.add_subparsers(dest="prompts_action", required=True)

    ls = ps.add_parser("list", help="versions and labels, with feedback per version")
    ls.add_argument("agent", nargs="?")
    sh = ps.add_parser("show", help="one version in full (a number, vN or a label)")
    sh.add_argument("agent")
    sh.add_argument("version")
    df = ps.add_parser("diff", help="a readable diff of two versions (numbers or labels)")
    df.add_argument("agent")
    df.add_argument("old")
    df.add_argument("new")
    cr = ps.add_parser("create", help="a new version from a prompt file")
    cr.add_argument("agent")
    cr.add_argument("--file", type=Path, required=True, help="the system prompt (Markdown)")
    cr.add_argument("--note", required=True, help="why it changed")
    cr.add_argument(
        "--from", dest="base", help="copy rules, model, params from (default: production)"
    )
    cr.add_argument("--rules-file", type=Path, help="answering rules (default: the base's)")
    cr.add_argument("--model", help="default: the base's")
    cr.add_argument("--max-tokens", type=int, help="default: the base's")
    lb = ps.add_parser("label", help="point a label at a version (not production: promote)")
    lb.add_argument("agent")
    lb.add_argument("label")
    lb.add_argument("version")
    lb.add_argument("--reason", default="")
    lb.add_argument("--force", action="store_true", help="move production without the gate")
    pr = ps.add_parser("promote", help="evaluate VERSION against the label's, then move it")
    pr.add_argument("agent")
    pr.add_argument("version")
    pr.add_argument("--to", default=PROTECTED, help="the label (default production)")
    pr.add_argument("--canary", type=int, help="send this percent of sessions to VERSION only")
    pr.add_argument("--tolerance", type=float, default=0.02, help="largest drop allowed")
    pr.add_argument("--force", action="store_true", help="move even when the gate refuses")
    pr.add_argument("--reason", default="", help="required with --force; kept in the audit")
    pr.add_argument("--agents-dir", type=Path, default=Path("agents"))
    pr.add_argument("--cases", type=Path, default=Path("tests/data/behaviour.yaml"))
    rb = ps.add_parser("rollback", help="move the label back to its previous version now")
    rb.add_argument("agent")
    rb.add_argument("--label", default=PROTECTED)
    rb.add_argument("--reason", default="")
    hi = ps.add_parser("history", help="label moves: who, when, from, to, why")
    hi.add_argument("agent")
    hi.add_argument("--label")


def run_prompts_command(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except SwitchboardError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace) -> int:
    from switchboard.devtools.settings import ToolSettings
    from switchboard.store import Store

    settings, url = ToolSettings().store_for(args.database_url)
    store = await Store.open(settings, url=url, upgrade=False)
    try:
        return await run(store, args)
    finally:
        await store.close()


async def run(
    store: Store, args: argparse.Namespace, runner_factory: RunnerFactory | None = None
) -> int:
    """The command on an open store; a refusal prints ``error: ...`` and returns 1."""
    try:
        return await _command(store, args, runner_factory)
    except SwitchboardError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


async def _command(
    store: Store, args: argparse.Namespace, runner_factory: RunnerFactory | None
) -> int:
    from switchboard.cli import prompt_moves

    actor = args.actor or getpass.getuser()
    action = args.prompts_action
    if action == "list":
        return await _list(store, args.agent)
    if action == "show":
        version = await find(store, args.agent, args.version)
        print(f"{version.ref}  by {version.author}  {version.created_at:%Y-%m-%d %H:%M} UTC")
        print(f"model {version.model}  params {version.params}  hash {version.content_hash[:12]}")
        print(f"note: {version.note}\n\n{version.system_prompt}\n\n{version.rules}")
        return 0
    if action == "diff":
        old, new = await find(store, args.agent, args.old), await find(store, args.agent, args.new)
        print(diff(old, new) or f"{old.ref} and {new.ref} are the same")
        return 0
    if action == "create":
        return await prompt_moves.create(store, args, actor)
    if action == "label":
        return await prompt_moves.label(store, args, actor)
    if action == "promote":
        return await prompt_moves.promote(store, args, actor, runner_factory)
    if action == "rollback":
        return await prompt_moves.rollback(store, args, actor)
    for m in await store.prompts.history(args.agent, args.label):
        print(
            f"{m.created_at:%Y-%m-%d %H:%M:%S}  {m.label:<11} {m.action:<8} "
            f"{'v' + str(m.from_version) if m.from_version else '-':>5} -> v{m.to_version:<4}"
            f"{f' canary v{m.canary_version} {m.canary_percent}%' if m.canary_version else ''}"
            f"  {m.actor}  {m.reason}"
        )
    return 0


async def find(store: Store, agent: str, ref: str) -> PromptVersion:
    """A version by number (3, v3, agent@v3) or by the label pointing at it (production)."""
    from switchboard.core.errors import NotFound
    from switchboard.store.prompt_types import check_agent, parse_version

    check_agent(agent)
    if re.fullmatch(r"[a-z][a-z0-9_-]*", ref) and not re.fullmatch(r"v[0-9]+", ref):
        label = await store.prompts.label(agent, ref)
        if label is None:
            raise NotFound(f"agent {agent!r} has no label {ref!r}")
        return await store.prompts.get(agent, label.version)
    return await store.prompts.get(agent, parse_version(agent, ref))


def diff(old: PromptVersion, new: PromptVersion) -> str:
    """A unified diff of everything that differs: text, rules, model, parameters."""

    def lines(v: PromptVersion) -> list[str]:
        return [
            f"model: {v.model}",
            *(f"{k}: {val}" for k, val in sorted(v.params.items())),
            "",
            *v.system_prompt.splitlines(),
            "",
            *v.rules.splitlines(),
        ]

    return "\n".join(
        difflib.unified_diff(lines(old), lines(new), old.ref, new.ref, lineterm="", n=2)
    )


async def _list(store: Store, agent: str | None) -> int:
    agents = [agent] if agent else await store.prompts.agents()
    if not agents:
        print("no prompt versions yet: 'switchboard ingest' seeds version 1 of each agent")
        return 0
    for name in agents:
        labels = await store.prompts.labels(name)
        feedback = await store.prompts.feedback(name)
        print(f"{name}: " + (", ".join(f"{lb.label} -> {lb.describe()}" for lb in labels) or "-"))
        for v in await store.prompts.versions(name):
            marks = [lb.label for lb in labels if v.number in (lb.version, lb.canary_version)]
            fb = feedback.get(v.ref)
            rate = f"{fb.rate:.0%} of {fb.count}" if fb else "-"
            print(
                f"  v{v.number:<3} {v.created_at:%Y-%m-%d %H:%M}  {v.author:<12.12} "
                f"{v.content_hash[:8]}  feedback {rate:<10} {','.join(marks):<18} {v.note[:50]}"
            )
    return 0
