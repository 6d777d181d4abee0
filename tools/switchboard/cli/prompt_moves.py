"""The writing half of ``switchboard prompts``: create, label, promote (gated) and rollback.

Each move reads the label, then moves it naming the revision it read (compare-and-set): when
someone else moved it in between, even while the gate ran, the move fails and nothing is
written. Refusals print why and exit 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from switchboard.core.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from switchboard.devtools.evals.prompt_gate import GateReport, GateRunner
    from switchboard.store import LabelMove, PromptLabel, PromptVersion, Store

PROTECTED = "production"

RunnerFactory = Callable[[str, argparse.Namespace, "Store"], "GateRunner"]


async def create(store: Store, args: argparse.Namespace, actor: str) -> int:
    from switchboard.cli.prompts import find

    try:
        base = await find(store, args.agent, args.base or PROTECTED)
    except NotFound as exc:
        raise NotFound(
            f"{exc.message}: run 'switchboard ingest' to seed version 1, or name --from"
        ) from exc
    text = _read(args.file)
    rules = _read(args.rules_file) if args.rules_file else base.rules
    params = dict(base.params)
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    version, new = await store.prompts.create(
        agent=args.agent,
        system_prompt=text,
        rules=rules,
        model=args.model or base.model,
        params=params,
        author=actor,
        note=args.note,
    )
    print(f"created {version.ref}" if new else f"same content as {version.ref}: nothing created")
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}") from exc


async def label(store: Store, args: argparse.Namespace, actor: str) -> int:
    from switchboard.cli.prompts import find

    version = await find(store, args.agent, args.version)
    if args.label == PROTECTED and not args.force:
        raise InvalidRequest(
            "production moves through 'switchboard prompts promote' (the evaluation gate) or "
            "'rollback'; 'label --force --reason' bypasses the gate, audited"
        )
    _check_force(args)
    current = await store.prompts.label(args.agent, args.label)
    moved = await store.prompts.move(
        args.agent,
        args.label,
        to=version.number,
        expect_revision=current.revision if current else 0,
        actor=actor,
        reason=args.reason,
        action="force" if args.force else "set",
    )
    print(f"{args.agent} {args.label} -> {moved.describe()}")
    return 0


def _check_force(args: argparse.Namespace) -> None:
    if args.force and not args.reason.strip():
        raise InvalidRequest("--force needs --reason: say why the gate is bypassed (audited)")


async def promote(
    store: Store,
    args: argparse.Namespace,
    actor: str,
    runner_factory: RunnerFactory | None = None,
) -> int:
    from switchboard.cli.prompts import find
    from switchboard.devtools.evals.prompt_gate import run_gate

    _check_force(args)
    if args.canary is not None and not 1 <= args.canary <= 99:
        raise InvalidRequest("--canary is a percent of sessions, 1-99")
    candidate = await find(store, args.agent, args.version)
    current_label = await store.prompts.label(args.agent, args.to)
    current = (
        None
        if current_label is None
        else await store.prompts.get(args.agent, current_label.version)
    )
    if args.canary is not None and current is None:
        raise InvalidRequest(f"a canary needs {args.to!r} to point at a version already")
    if current is not None and current.number == candidate.number:
        raise InvalidRequest(f"{args.to} already serves {candidate.ref}")
    baseline = current or await _reviewed(store, args.agent)
    runner = (runner_factory or default_runner)(args.agent, args, store)
    report = await run_gate(runner, candidate, current, tolerance=args.tolerance, baseline=baseline)
    print(f"gate ({report.backend}) for {args.agent} {args.to}:\n{report.table()}")
    for failure in report.candidate.failures[:10]:
        print(f"  case failed with {candidate.ref}: {failure}")
    if not report.passed:
        print("refused:\n" + "\n".join(f"  - {r}" for r in report.refusals))
        if not args.force:
            print(f"nothing moved: {args.to} still serves {current.ref if current else '-'}")
            return 1
    canary = args.canary is not None and current is not None
    moved = await store.prompts.move(
        args.agent,
        args.to,
        to=current.number if canary and current is not None else candidate.number,
        canary=candidate.number if canary else None,
        canary_percent=args.canary if canary else 0,
        expect_revision=current_label.revision if current_label else 0,
        actor=actor,
        reason=args.reason,
        action="force" if not report.passed else ("canary" if canary else "promote"),
        detail=_gate_detail(report),
    )
    print(f"{args.agent} {args.to} -> {moved.describe()}")
    return 0


async def _reviewed(store: Store, agent: str) -> PromptVersion:
    """What a new label's candidate is judged against: production's version, else v1 (git's)."""
    production = await store.prompts.label(agent, PROTECTED)
    return await store.prompts.get(agent, production.version if production else 1)


def _gate_detail(report: GateReport) -> dict[str, object]:
    return {
        "gate": {
            "backend": report.backend,
            "passed": report.passed,
            "refusals": report.refusals,
            "candidate": report.candidate.scores,
            "current": report.current.scores if report.current else None,
        }
    }


def default_runner(agent: str, args: argparse.Namespace, store: Store) -> GateRunner:
    """The gate as an operator runs it: the agent's config, settings and knowledge store."""
    from switchboard.agent.config import AgentConfig
    from switchboard.agent.settings import AgentSettings
    from switchboard.core.embeddings import MiniLMEmbedder
    from switchboard.devtools.evals.prompt_gate import GateRunner, load_agent_cases

    path = args.agents_dir / agent / "agent.yaml"
    if not path.is_file():
        raise NotFound(f"no agent config at {path} (give --agents-dir)")
    return GateRunner(
        config=AgentConfig.load(path),
        settings=AgentSettings(),
        store=store,
        embedder=MiniLMEmbedder(),
        cases=load_agent_cases(args.cases, agent),
    )


async def rollback(store: Store, args: argparse.Namespace, actor: str) -> int:
    current = await store.prompts.label(args.agent, args.label)
    if current is None:
        raise NotFound(f"agent {args.agent!r} has no label {args.label!r}")
    target = previous_version(
        current, await store.prompts.history(args.agent, args.label, limit=500)
    )
    moved = await store.prompts.move(
        args.agent,
        args.label,
        to=target,
        expect_revision=current.revision,
        actor=actor,
        reason=args.reason,
        action="rollback",
    )
    print(f"{args.agent} {args.label} -> {moved.describe()} (was {current.describe()})")
    return 0


def previous_version(current: PromptLabel, moves: Sequence[LabelMove]) -> int:
    """Where a rollback goes: a canary is dropped (its main version stays); otherwise the
    version the label served before the move that brought it to its current one."""
    if current.canary_version is not None and current.canary_percent:
        return current.version
    for move in moves:  # newest first
        if move.to_version == current.version and move.from_version not in (None, move.to_version):
            assert move.from_version is not None
            return move.from_version
    raise InvalidRequest(
        f"{current.label} of {current.agent} has served only v{current.version}: "
        "nothing to roll back to"
    )
