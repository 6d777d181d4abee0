"""The demo's conversation: three turns of one session whose follow-ups only make sense in
the context of the first (docs/memory.md). Each reply says whether it continued the
conversation and how many earlier turns the agent could draw on."""

from __future__ import annotations

import secrets
import time

from switchboard.client import SupervisorClient

DEMO_CONVERSATION = [
    "How long does a refund take to reach my card?",
    "And how soon do you review the request?",
    "Can it go back to a different card instead?",
]


async def demo_conversation(address: str, token: str | None) -> None:
    from switchboard.devtools.stack import format_answer

    session = f"demo-conversation-{secrets.token_hex(4)}"
    print(f"\n== A conversation: three turns of session {session}, follow-ups read in context")
    async with SupervisorClient(address, token=token) as client:
        for question in DEMO_CONVERSATION:
            started = time.perf_counter()
            reply = await client.ask(question, session_id=session)
            print(format_answer(question, reply, (time.perf_counter() - started) * 1000))
            state = reply.conversation
            print(f"   conversation: {state.state} ({state.turns} earlier turn(s)): {state.note}")
