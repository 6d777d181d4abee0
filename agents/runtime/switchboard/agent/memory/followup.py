"""Follow-up turns retrieved as standalone questions (offline, no model call).

"And what if it still isn't there after two weeks?" retrieves nothing useful on its own. The
standalone query is the turn plus the conversation's recent key terms: the content words of
the customer's last turns (newest first) that the turn does not already contain, at most
``MAX_TERMS``. The dense vector is the embedding of that text; BM25 (hybrid retrieval) sees
the same words. A turn that already names its topic is changed little: its own words come
first and the added terms only break ties.

With Claude the rewrite is folded into the answering call rather than made a separate one:
the model sees the conversation block and resolves the reference itself, and retrieval uses
this offline query, so a follow-up costs no extra round trip (docs/memory.md).
"""

from __future__ import annotations

import re

from switchboard.core.conversation import ConversationWindow

MAX_TERMS = 8
#: Customer turns (newest first) whose words may complete the follow-up.
TURNS_USED = 2

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*[a-z0-9]|[a-z0-9]")
_STOP_TEXT = (
    "a about after again all also am an and any are aren't as at be been before being but by "
    "can could day days did do does doing don't for from get got had happen happens has have "
    "having he hello her here hers hey hi him his how i i'd i'm if in into is isn't it it's "
    "its just know let like long many me month months more most much my need no not now of "
    "off ok okay on once one only or other our ours out over please said same say see she "
    "should so some still such tell than thank thanks that that's the their theirs them then "
    "there there's these they thing things this those three through time to too two under "
    "until up us very want was wasn't way we we're week weeks were what what's when where "
    "which while who whom why will with would year years yes you you're your yours "
)
_STOP = frozenset(_STOP_TEXT.split())


def key_terms(text: str) -> list[str]:
    """Content words of ``text`` in order of first appearance."""
    seen: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) >= 3 and word not in _STOP and not word.isdigit() and word not in seen:
            seen.append(word)
    return seen


def standalone_query(text: str, window: ConversationWindow | None) -> str:
    """``text`` completed with the conversation's recent key terms (``text`` itself when
    there is no conversation)."""
    if window is None or not window.turns:
        return text
    own = set(key_terms(text))
    added: list[str] = []
    for turn in reversed(window.turns[-TURNS_USED:]):
        for term in key_terms(turn.user):
            if term not in own and term not in added:
                added.append(term)
    if not added:
        return text
    return f"{text} ({' '.join(added[:MAX_TERMS])})"
