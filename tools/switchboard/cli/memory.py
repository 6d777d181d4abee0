"""``switchboard memory list|forget``: inspect and erase what the supervisor remembers of an
end user, through its Memory service (so the caller's token decides the tenant, and every
erasure is audited there). docs/memory.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
    default_address: str,
) -> None:
    m = sub.add_parser("memory", help="list or erase an end user's stored conversations")
    ms = m.add_subparsers(dest="memory_action", required=True)
    ls = ms.add_parser("list", help="a user's conversations and turns", parents=parents)
    ls.add_argument("--user", required=True, help="the end user's user_id")
    ls.add_argument("--turns", type=int, default=20, help="most turns shown per session")
    fg = ms.add_parser(
        "forget", help="erase a session, or everything about a user", parents=parents
    )
    which = fg.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", help="erase every conversation of this user_id")
    which.add_argument("--session", help="erase this session_id")
    for p in (ls, fg):
        p.add_argument("--address", default=default_address)
        p.add_argument("--tenant", default="", help="admin tokens only: the tenant")
        p.add_argument("--timeout", type=float, default=30.0)


def run_memory_command(args: argparse.Namespace) -> int:
    import grpc

    try:
        return asyncio.run(_run(args))
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace) -> int:
    import grpc
    from google.protobuf.json_format import MessageToDict

    from switchboard.devtools.settings import ToolSettings
    from switchboard.v1 import memory_pb2, memory_pb2_grpc

    token = args.token
    if token is None:
        env_token = ToolSettings().token
        token = env_token.get_secret_value() if env_token is not None else None
    metadata = [("authorization", f"Bearer {token}")] if token else []
    async with grpc.aio.insecure_channel(args.address) as channel:
        stub = memory_pb2_grpc.MemoryStub(channel)
        if args.memory_action == "list":
            reply = await stub.ListMemories(
                memory_pb2.ListMemoriesRequest(
                    user_id=args.user, tenant=args.tenant, max_turns=args.turns
                ),
                metadata=metadata,
                timeout=args.timeout,
            )
            print(json.dumps(MessageToDict(reply), indent=2))
            return 0
        if args.user:
            gone = await stub.ForgetUser(
                memory_pb2.ForgetUserRequest(user_id=args.user, tenant=args.tenant),
                metadata=metadata,
                timeout=args.timeout,
            )
        else:
            gone = await stub.ForgetSession(
                memory_pb2.ForgetSessionRequest(session_id=args.session, tenant=args.tenant),
                metadata=metadata,
                timeout=args.timeout,
            )
        print(f"erased {gone.sessions} session(s), {gone.rows_deleted} row(s)")
        return 0
