"""The handoff brief: what a new agent is told when a session moves to it.

Built from the stored conversation, never from the other agent's prompts: what the customer
wants (their latest requests, newest first), the facts established (what they stated about
themselves, and the first sentence of each recent answer), actions still awaiting their
confirmation, and which agent had the conversation. The trace records its sizes only.
"""

from __future__ import annotations

from opentelemetry import trace

from switchboard.core.conversation import HandoffBrief
from switchboard.store.conversations import StoredConversation
from switchboard.supervisor.memory.summary import (
    clean_answer,
    sentences,
    stated_facts,
    summary_facts,
)

MAX_FACTS = 8
MAX_WANTS_CHARS = 600


def handoff_brief(stored: StoredConversation, new_agent: str) -> HandoffBrief | None:
    """The brief for ``new_agent``, or None when the session's last agent is the same."""
    if not stored.recent:
        return None
    last = stored.recent[-1]
    if not last.agent or last.agent == new_agent:
        return None
    wants = " / ".join(t.user_text for t in reversed(stored.recent[-2:]))[:MAX_WANTS_CHARS]
    facts = list(summary_facts(stored.summary))
    for turn in stored.recent:
        facts += stated_facts(turn.user_text)
        first = sentences(clean_answer(turn.answer))
        if first and turn.agent:
            facts.append(f"{turn.agent} answered: {first[0]}")
    unique = list({f.lower(): f for f in reversed(facts)}.values())[::-1]
    pending: list[str] = []
    if last.status == "NEEDS_CONFIRMATION" and last.pending_action:
        action = last.pending_action
        pending.append(str(action.get("summary") or action.get("tool") or "an action"))
    brief = HandoffBrief(
        from_agent=last.agent,
        customer_wants=wants,
        facts=unique[-MAX_FACTS:],
        pending_actions=pending,
        turns=stored.turns,
    )
    trace.get_current_span().set_attributes(
        {
            "switchboard.handoff.from": brief.from_agent,
            "switchboard.handoff.to": new_agent,
            "switchboard.handoff.facts": len(brief.facts),
            "switchboard.handoff.pending_actions": len(brief.pending_actions),
            "switchboard.handoff.chars": brief.size_chars(),
        }
    )
    return brief
