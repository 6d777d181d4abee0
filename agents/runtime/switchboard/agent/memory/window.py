"""The conversation in the agent's prompt, within its share of the context budget.

The supervisor sends a running summary of older turns and the recent turns verbatim (or a
handoff brief when the session just moved here). This module renders them as data for the
prompt, newest turns first until ``budget_tokens`` is spent, so the prompt never grows with
the conversation: whatever the conversation's length, the conversation block plus the
passages stay within the agent's ``context_token_budget``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from switchboard.agent.answering.prompting import Prompt, estimate_tokens
from switchboard.core.conversation import ConversationWindow, HandoffBrief

CONVERSATION_RULES = """\
## Conversation
The <conversation> block holds the earlier turns of this conversation, as data. Use it to
understand what the latest question refers to ("it", "that plan", "and after two weeks?")
and what the customer already told you (<customer_memory>: what they said about themselves
in earlier conversations). Answer the latest <question>; facts still need [n] markers from
<documents>."""


@dataclass(frozen=True)
class RenderedWindow:
    text: str  # "" when there is nothing to show
    tokens: int
    turns_shown: int
    summary_chars: int


def with_conversation(prompt: Prompt, window: RenderedWindow) -> Prompt:
    """``prompt`` with the conversation block before the documents and its rules added."""
    if not window.text:
        return prompt
    return Prompt(
        system=f"{prompt.system}\n\n{CONVERSATION_RULES}",
        user=f"{window.text}\n\n{prompt.user}",
        passages=prompt.passages,
    )


def _clip_tokens(text: str, tokens: int) -> str:
    limit = max(0, int(tokens * 3.5))
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def render_window(
    window: ConversationWindow | None,
    brief: HandoffBrief | None,
    budget_tokens: int,
    memories: Sequence[str] = (),
) -> RenderedWindow:
    """The conversation block, at most ``budget_tokens`` (estimated) long."""
    if budget_tokens <= 0 or ((window is None or window.empty) and brief is None and not memories):
        return RenderedWindow("", 0, 0, 0)
    head = "<conversation>\n"
    tail = "</conversation>"
    spent = estimate_tokens(head + tail)
    parts: list[str] = []
    summary_chars = 0
    if memories:  # what the customer told us in earlier conversations: a tenth of the budget
        facts = ""
        for memory in memories:
            fact = f"<fact>{escape(memory, quote=False)}</fact>\n"
            if estimate_tokens(facts + fact) > budget_tokens // 10:
                break
            facts += fact
        if facts:
            block = f"<customer_memory>\n{facts}</customer_memory>\n"
            parts.append(block)
            spent += estimate_tokens(block)
    if brief is not None:
        block = _brief_block(brief, budget_tokens - spent)
        parts.append(block)
        spent += estimate_tokens(block)
    if window is not None and window.summary:
        # The summary may take at most a third of the budget; recent turns matter more.
        summary = _clip_tokens(window.summary, (budget_tokens - spent) // 3)
        block = f"<summary>\n{escape(summary, quote=False)}\n</summary>\n"
        parts.append(block)
        spent += estimate_tokens(block)
        summary_chars = len(summary)
    turns: list[str] = []
    for turn in reversed(window.turns if window is not None else []):
        block = (
            f'<turn agent="{escape(turn.agent)}">\n<customer>{escape(turn.user, quote=False)}'
            f"</customer>\n<answer>{escape(turn.answer, quote=False)}</answer>\n</turn>\n"
        )
        cost = estimate_tokens(block)
        if spent + cost > budget_tokens:
            # The latest turn matters most: a shortened answer rather than nothing.
            if not turns:
                room = budget_tokens - spent - estimate_tokens(turn.user) - 20
                if room > 20:
                    short = _clip_tokens(turn.answer, room)
                    block = (
                        f'<turn agent="{escape(turn.agent)}">\n<customer>'
                        f"{escape(turn.user, quote=False)}</customer>\n<answer>"
                        f"{escape(short, quote=False)}</answer>\n</turn>\n"
                    )
                    turns.append(block)
                    spent += estimate_tokens(block)
            break
        turns.append(block)
        spent += cost
    parts.extend(reversed(turns))
    if not parts:
        return RenderedWindow("", 0, 0, 0)
    text = head + "".join(parts) + tail
    return RenderedWindow(text, estimate_tokens(text), len(turns), summary_chars)


def _brief_block(brief: HandoffBrief, budget_tokens: int) -> str:
    """The brief, its oldest facts dropped until it takes at most half the budget."""
    facts = list(brief.facts)
    wants = brief.customer_wants
    while True:
        block = (
            f'<handoff from_agent="{escape(brief.from_agent)}" turns="{brief.turns}">\n'
            f"<customer_wants>{escape(wants, quote=False)}</customer_wants>\n"
            + "".join(f"<fact>{escape(f, quote=False)}</fact>\n" for f in facts)
            + "".join(
                f"<pending_action>{escape(p, quote=False)}</pending_action>\n"
                for p in brief.pending_actions
            )
            + "</handoff>\n"
        )
        if estimate_tokens(block) <= budget_tokens // 2 or (not facts and len(wants) < 80):
            return block
        if facts:
            facts.pop(0)
        else:
            wants = _clip_tokens(wants, max(10, estimate_tokens(wants) // 2))
