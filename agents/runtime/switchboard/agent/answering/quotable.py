"""Which sentences of a passage may be quoted by the offline answer, and which may stand alone.

A quote must never carry instructions planted in a document (the guard's indirect rules), and a
sentence that answers nothing on its own (a lead-in, a list fragment, a remark about the page,
a pointer to another article) is quoted only inside the list or paragraph it belongs to.
"""

from __future__ import annotations

import re

from switchboard.guard.rules import match_rules

# "This article explains how to reach support": says what the article is about, answers
# nothing. ("This page shows your plan" is about a page of the product: an answer.)
_ABOUT = re.compile(
    r"^(?:This|The following) (?:(?:article|guide|section|policy|document|FAQ)"
    r" (?:explains|covers|lists|describes|shows|walks|helps|says|is about)"
    r"|page (?:explains|covers|describes|is about))\b",
    re.I,
)
# "See *API Rate Limits*.", 'See "Security keys and passkeys".': a pointer to another
# article, which the reader cannot follow here.
_POINTER = re.compile(
    r"^(?:See|Read|Refer to) (?:\*[^*]+\*|\"[^\"]+\"|\u201c[^\u201d]+\u201d)(?: for [^.]*)?\.?$"
)


def usable(sentence: str) -> bool:
    """Lead-ins ("To do this:") and list fragments ("already be an Admin") say nothing on
    their own; short pieces rarely answer anything; a sentence the guard's rules flag is
    never quoted (planted instructions); nor is a sentence about the article itself, or one
    that only points to another article."""
    return (
        len(sentence) >= 20
        and not _ABOUT.match(sentence)
        and not _POINTER.match(sentence)
        and not sentence.endswith(":")
        and not sentence[0].islower()
        and not match_rules(sentence, "indirect")
    )


def quotable(sentence: str) -> bool:
    """May appear inside a quoted list (lead-ins and fragments included): not flagged."""
    return bool(sentence) and not match_rules(sentence, "indirect")
