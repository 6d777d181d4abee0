"""The ``switchboard`` command: run services, ingest knowledge, and talk to a supervisor."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from google.protobuf.json_format import MessageToDict

DEFAULT_ADDRESS = "127.0.0.1:50051"


def _parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one parser per command
    p = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("supervisor", help="run the supervisor gRPC service")
    s.add_argument("--agents", type=Path, required=True, help="agents file (YAML)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    s.add_argument("--ready-file", type=Path, help="write {'port': N} here once serving")

    a = sub.add_parser("agent", help="run one domain agent gRPC service")
    a.add_argument("--config", type=Path, required=True, help="agent config (agent.yaml)")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, default=50061, help="0 picks a free port")
    a.add_argument("--ready-file", type=Path, help="write {'port': N} here once serving")

    _add_ingest_parser(sub)

    k = sub.add_parser("ask", help="ask a running supervisor", parents=_ask_options())
    k.add_argument("text")
    k.add_argument("--address", default=DEFAULT_ADDRESS)
    k.add_argument("--session", default="")
    k.add_argument("--agent", default="", help="skip routing and ask this agent")
    k.add_argument("--timeout", type=float, default=30.0)
    k.add_argument("--json", action="store_true", help="print the raw response as JSON")
    k.add_argument(
        "--stream", action="store_true", help="AskStream: print the answer as it is written"
    )

    r = sub.add_parser(
        "route", help="show the routing decision for a text", parents=_ask_options(budget=False)
    )
    r.add_argument("text")
    r.add_argument("--address", default=DEFAULT_ADDRESS)

    ls = sub.add_parser(
        "agents", help="list the supervisor's agents", parents=_ask_options(budget=False)
    )
    ls.add_argument("--address", default=DEFAULT_ADDRESS)

    h = sub.add_parser(
        "health", help="exit 0 when a server reports SERVING", parents=_ask_options(budget=False)
    )
    h.add_argument("--address", default=DEFAULT_ADDRESS)
    h.add_argument("--service", default="")

    d = sub.add_parser("demo", help="ingest, start everything, ask sample questions, stop")
    d.add_argument("--agents-dir", type=Path, default=Path("agents"))

    b = sub.add_parser("bench", help="run the benchmarks and write a results file")
    b.add_argument("--agents-dir", type=Path, default=Path("agents"))
    b.add_argument("--out", type=Path, default=Path("build/bench-results.json"))
    b.add_argument("--rounds", type=int, default=150, help="Ask requests per configuration")
    b.add_argument(
        "--full", action="store_true", help="also measure tracing overhead and routing end to end"
    )
    b.add_argument(
        "--streaming-only",
        action="store_true",
        help="only the streaming figures (time to first token, 200 concurrent streams)",
    )

    pr = sub.add_parser("profile", help="py-spy each service of a stack under bench load")
    pr.add_argument("--agents-dir", type=Path, default=Path("agents"))
    pr.add_argument("--out", type=Path, default=Path("build/profile"))
    pr.add_argument("--seconds", type=float, default=20.0)

    from switchboard.devtools.evals.cli import add_parser as add_eval_parser

    evs = add_eval_parser(sub)  # eval routing | eval run (switchboard.devtools.evals.cli)
    eg = evs.add_parser("guard", help="prompt-injection guard: deepset, giskard, benign FPR")
    eg.add_argument("--data", type=Path, help="datasets folder (default ../shared/data)")
    eg.add_argument("--out", type=Path, default=Path("build/guard-report.json"))
    eg.add_argument("--folds", type=int, default=5)
    eg.add_argument("--target-fpr", type=float, default=0.02)

    _add_console_parser(sub)
    from switchboard.cli.review import add_parsers as add_review_parsers

    add_review_parsers(sub)  # gaps | feedback report | review export
    _add_store_parsers(sub)
    from switchboard.cli.memory import add_parser as add_memory_parser

    add_memory_parser(sub, _ask_options(budget=False), DEFAULT_ADDRESS)  # list | forget
    from switchboard.cli.examples import add_parser as add_examples_parser

    add_examples_parser(sub)  # examples list | confirm | accept | reject | apply
    from switchboard.cli.prompts import add_parser as add_prompts_parser

    add_prompts_parser(sub)  # prompts list | show | diff | create | label | promote | rollback
    return p


def _add_console_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rn = sub.add_parser("run", help="run the whole stack in the foreground")
    rn.add_argument("--agents-dir", type=Path, default=Path("agents"))
    rn.add_argument("--port", type=int, default=50051)
    rn.add_argument(
        "--first-agent-port", type=int, default=50061, help="0 picks free ports for the agents"
    )

    rn.add_argument(
        "--console-port", type=int, default=8080, help="review console port; 0 picks a free one"
    )

    co = sub.add_parser("console", help="run the reviewer console (web pages)")
    co.add_argument("--supervisor", help="host:port of the supervisor (Review service)")
    co.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    co.add_argument("--port", type=int, help="port to listen on (default 8080)")
    co.add_argument("--ready-file", type=Path, help="write the bound port here (tools)")


def _add_ingest_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    i = sub.add_parser("ingest", help="load agents' knowledge folders into their stores")
    i.add_argument("configs", nargs="*", type=Path, help="agent configs (agent.yaml)")
    i.add_argument("--config", dest="more", action="append", type=Path, default=[])
    i.add_argument(
        "--source",
        default="knowledge-dir",
        help="ingestion source recorded on every chunk; agents retrieve only the sources in "
        "their retrieval.trusted_sources (default knowledge-dir: the agent's own folder)",
    )
    i.add_argument("--added-by", default="", help="who adds these documents (default: $USER)")
    i.add_argument(
        "--from",
        dest="folder",
        type=Path,
        help="ingest this folder (as --source) instead of each agent's knowledge folder",
    )
    i.add_argument(
        "--conflicts-out",
        type=Path,
        default=Path("build/knowledge-conflicts.json"),
        help="with two or more agents: where the report of passages of different agents that "
        "state different numbers or names is written (docs/answer-quality.md)",
    )


def _ask_options(*, budget: bool = True) -> list[argparse.ArgumentParser]:
    """Options of the commands that call the supervisor: its token and a request's budget."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--token",
        help="bearer token for the supervisor (default: $SWITCHBOARD_TOKEN); needed when it "
        "runs with SWITCHBOARD_AUTH_TOKENS; write --token=T for a token that starts with '-'",
    )
    if budget:
        p.add_argument("--budget-tokens", type=int, help="most LLM tokens the request may use")
        p.add_argument("--budget-cost", type=float, help="most estimated USD it may cost")
    return [p]


def _add_store_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``audit`` and ``db``, run by ``switchboard.cli.store``."""
    au = sub.add_parser("audit", help="query the audit log (DATABASE_URL or SQLite in data dir)")
    au.add_argument("--request-id")
    au.add_argument("--kind", help="route_decision, agent_call, tool_call, escalation, ...")
    au.add_argument("--tenant")
    au.add_argument("--agent")
    au.add_argument("--trace-id")
    au.add_argument("--since", help="1h, 30m, 2d or an ISO time")
    au.add_argument("--until", help="1h, 30m, 2d or an ISO time")
    au.add_argument("--limit", type=int, default=50, help="newest N events, printed oldest first")
    au.add_argument("--json", action="store_true", help="print JSON lines")
    au.add_argument("--database-url", help="overrides DATABASE_URL")

    db = sub.add_parser("db", help="manage the store's database (migrations, retention)")
    db.add_argument("action", choices=["upgrade", "current", "purge"])
    db.add_argument("--database-url", help="overrides DATABASE_URL")


def _print_json(message: object) -> None:
    print(json.dumps(MessageToDict(message, preserving_proto_field_name=True), indent=2))  # type: ignore[arg-type]


async def _client_command(args: argparse.Namespace) -> int:
    import grpc

    from switchboard.client import SupervisorClient, check_health
    from switchboard.core.budget import COST_KEY, TOKENS_KEY
    from switchboard.devtools.settings import ToolSettings
    from switchboard.devtools.stack import format_answer

    token = args.token
    if token is None:
        env_token = ToolSettings().token
        token = env_token.get_secret_value() if env_token is not None else None
    if args.command == "health":
        ok = await check_health(args.address, args.service, token=token)
        print("SERVING" if ok else "NOT SERVING")
        return 0 if ok else 1
    try:
        async with SupervisorClient(
            args.address, timeout=getattr(args, "timeout", 30.0), token=token
        ) as c:
            if args.command == "ask":
                budget = []
                if args.budget_tokens is not None:
                    budget.append((TOKENS_KEY, str(args.budget_tokens)))
                if args.budget_cost is not None:
                    budget.append((COST_KEY, str(args.budget_cost)))
                if args.stream and not args.json:
                    from switchboard.devtools.stream_print import print_stream

                    print(f"Q: {args.text}")
                    events = c.ask_stream(
                        args.text, session_id=args.session, agent=args.agent, metadata=budget
                    )
                    return 0 if await print_stream(events) is not None else 2
                started = time.perf_counter()
                reply = await c.ask(
                    args.text, session_id=args.session, agent=args.agent, metadata=budget
                )
                elapsed_ms = (time.perf_counter() - started) * 1000
                if args.json:
                    _print_json(reply)
                else:
                    print(format_answer(args.text, reply, elapsed_ms))
            elif args.command == "route":
                _print_json(await c.route(args.text))
            else:
                _print_json(await c.list_agents())
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    return 0


#: Commands whose whole work is one ``run_*(args) -> int`` in a module of their own, imported
#: only when used so the parser stays cheap.
DELEGATED = {
    "audit": "switchboard.cli.store:run_store_command",
    "db": "switchboard.cli.store:run_store_command",
    "examples": "switchboard.cli.examples:run_examples_command",
    "prompts": "switchboard.cli.prompts:run_prompts_command",
    "memory": "switchboard.cli.memory:run_memory_command",
    "gaps": "switchboard.cli.review:run_review_command",
    "feedback": "switchboard.cli.review:run_review_command",
    "review": "switchboard.cli.review:run_review_command",
}


def _delegate(target: str, args: argparse.Namespace) -> int:
    module, _, function = target.partition(":")
    run: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), function)
    return run(args)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in DELEGATED:
        return _delegate(DELEGATED[args.command], args)
    if args.command == "supervisor":
        from switchboard.supervisor.server import serve_supervisor

        asyncio.run(
            serve_supervisor(
                args.agents, host=args.host, port=args.port, ready_file=args.ready_file
            )
        )
        return 0
    if args.command == "agent":
        from switchboard.agent.server import serve_agent

        asyncio.run(
            serve_agent(args.config, host=args.host, port=args.port, ready_file=args.ready_file)
        )
        return 0
    if args.command == "ingest":
        from switchboard.agent.knowledge.ingest import Provenance, ingest_paths

        configs = [*args.configs, *args.more]
        if not configs:
            print("error: name at least one agent config", file=sys.stderr)
            return 2
        from switchboard.agent.settings import AgentSettings
        from switchboard.core.embeddings import MiniLMEmbedder

        provenance = Provenance(source=args.source, added_by=args.added_by)
        agent_settings = AgentSettings()
        for report in ingest_paths(
            configs, agent_settings, MiniLMEmbedder(), provenance=provenance, folder=args.folder
        ):
            print(report.summary())
        from switchboard.agent.prompt_seed import seed_registry

        for line in asyncio.run(seed_registry(configs, agent_settings)):
            print(line)
        if len(configs) > 1:
            from switchboard.cli.conflicts import print_conflicts

            print_conflicts(configs, agent_settings, args.conflicts_out)
        return 0
    if args.command == "demo":
        from switchboard.devtools.stack import run_demo

        return run_demo(args.agents_dir)
    if args.command == "bench":
        from switchboard.devtools.bench import main as bench_main

        return bench_main(
            args.agents_dir,
            args.out,
            args.rounds,
            full=args.full,
            streaming_only=args.streaming_only,
        )
    if args.command == "profile":
        from switchboard.devtools.bench.profile import main as profile_main

        return profile_main(args.agents_dir, args.out, args.seconds)
    if args.command == "eval" and args.eval_target == "guard":
        from switchboard.devtools.evals.guard_cli import main as guard_eval_main

        return guard_eval_main(args.data, args.out, args.folds, args.target_fpr)
    if args.command == "eval":
        from switchboard.devtools.evals.cli import main as eval_main

        return eval_main(args)
    if args.command == "run":
        from switchboard.devtools.stack import run_foreground

        return run_foreground(
            args.agents_dir, args.port, args.first_agent_port, console_port=args.console_port
        )
    if args.command == "console":
        from switchboard.console.server import serve_console
        from switchboard.console.settings import ConsoleSettings

        given = {"supervisor": args.supervisor, "host": args.host, "port": args.port}
        settings = ConsoleSettings(**{k: v for k, v in given.items() if v is not None})
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_console(settings, ready_file=args.ready_file))
        return 0
    try:
        return asyncio.run(_client_command(args))
    except KeyboardInterrupt:
        print(f"\ninterrupted: {args.command} cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
