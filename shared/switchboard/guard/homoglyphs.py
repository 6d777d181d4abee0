"""Folding look-alike letters back to Latin, so "ignore" with a Cyrillic o reads as "ignore".

The table comes from the Unicode consortium's confusables list as packaged by
``confusable-homoglyphs`` (every character drawn like a single Latin letter: Cyrillic, Greek,
Armenian, mathematical and full-width forms...), topped up with a few lower-case look-alikes
that list pairs only with upper-case Latin (Cyrillic к, м, т; Greek κ, τ, χ). A hand-kept
table alone missed whatever script an attacker tried next.

Folding is per word, and only where the word is plainly disguised Latin: a word that mixes
Latin with other letters, or, in a text whose words mostly have Latin letters, a word made
only of look-alikes (a Cyrillic "a" or "app"). Russian or Greek text stays as written,
because folding it would turn real words into noise the classifier has never seen.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from switchboard.guard.scripts import script_of

_WORD = re.compile(r"[^\W\d_]+")

# Look-alikes the confusables list maps only to an upper-case Latin letter, or not at all.
_EXTRA = {
    "в": "b", "ё": "e", "к": "k", "м": "m", "н": "h", "т": "t", "у": "y", "ј": "j",
    "ѕ": "s", "ε": "e", "κ": "k", "τ": "t", "χ": "x", "Ζ": "Z", "Η": "H",
}  # fmt: skip


@lru_cache(maxsize=1)
def fold_table() -> dict[str, str]:
    """Non-ASCII character -> the Latin letter it is drawn like."""
    raw = (resources.files("confusable_homoglyphs") / "confusables.json").read_text("utf-8")
    table: dict[str, str] = {}
    for char, alternatives in json.loads(raw).items():
        if len(char) != 1 or char.isascii():
            continue
        latin = [
            a["c"]
            for a in alternatives
            if len(a["c"]) == 1 and a["c"].isascii() and a["c"].isalpha()
        ]
        if latin:
            table[char] = latin[0]
    table.update(_EXTRA)
    return table


def _latin(char: str) -> bool:
    """A letter of the Latin script, accented ones included (ü, é, ß)."""
    return script_of(char) == "LATIN"


def fold_homoglyphs(text: str) -> str:
    """``text`` with disguised Latin words folded back; other words unchanged."""
    table = fold_table()
    words = _WORD.findall(text)
    if not words or not any(ch in table for ch in text):
        return text
    # Words with any Latin letter, disguised ones included (a disguised "ignore" keeps g, n, r).
    mostly_latin = sum(any(_latin(ch) for ch in w) for w in words) * 2 > len(words)

    def fold(match: re.Match[str]) -> str:
        word = match.group(0)
        if not any(ch in table for ch in word):
            return word
        mixed = any(_latin(ch) and ch not in table for ch in word)
        all_lookalike = all(ch in table or _latin(ch) for ch in word)
        if (mixed or mostly_latin) and all_lookalike:
            return "".join(table.get(ch, ch) for ch in word)
        return word

    return _WORD.sub(fold, text)
