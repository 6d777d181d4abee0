"""Undoing the ways attackers hide an instruction from a text screen, before the rules and the
classifier look at it.

* letters spaced out ("i g n o r e   a l l   p r e v i o u s"), or joined by dots, dashes,
  underscores or stars: runs of four or more single letters are joined back into words;
* homoglyphs: letters of other scripts drawn like Latin ones, inside otherwise Latin words or
  text, are folded to the Latin letter (``homoglyphs.py``); compatibility forms (full-width,
  mathematical letters) fold under NFKC;
* invisible characters (zero-width spaces and joiners, soft hyphens) are removed;
* encoded payloads: base64 and hex runs that decode to readable text, and text the message
  itself says is ROT13 (``decoding.py``).

:func:`reveal` returns the whole text with all of that undone (the payloads decoded in place),
or None when there was nothing of the kind (the usual case: then nothing more is screened).
:func:`views` returns what the classifier should judge instead of the text as written: the
revealed text, or, when something was encoded, each decoded payload, with the visible wrapper
apart. Judged together, a benign payload inside a "please help with this:" wrapper reads
like a task handed over, and benign texts so wrapped were blocked by the dozen. The wrapper
alone is a fragment that hands a task over ("Please help with this:"), which the classifier
scores as a mild instruction whatever was encoded, so it counts only when it is blocked on its
own: otherwise every wrapped text, benign or not, would share its score, and the payload's
own score, the one that tells them apart, would be lost.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from switchboard.guard.decoding import encoded_payloads
from switchboard.guard.homoglyphs import fold_homoglyphs

_INVISIBLE = re.compile(r"[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACED = re.compile(r"(?<![^\s\"'(\[])((?:[^\W\d_][ .\-_*·]){3,}[^\W\d_])(?![^\s\"').,!?:;\]])")
_SEPARATOR = re.compile(r"[ .\-_*·]")
_SPACES = re.compile(r"[ \t]{2,}")
SPACED_MIN_TOKENS = 6
SPACED_SHARE = 0.6
_WORD_GAP = re.compile(r"\s{2,}|\s/\s")
# A wrapper left with fewer words than this says nothing on its own ("Decode:").
MIN_WRAPPER_WORDS = 3


def _join_spaced(match: re.Match[str]) -> str:
    return _SEPARATOR.sub("", match.group(1))


def _unspace(text: str) -> str:
    """Text written letter by letter (most tokens single letters): words are the runs
    between wider gaps (two or more spaces, or " / "); elsewhere, runs of 4+ letters."""
    tokens = text.split()
    singles = sum(len(t) == 1 for t in tokens)
    if len(tokens) >= SPACED_MIN_TOKENS and singles / len(tokens) >= SPACED_SHARE:
        words = [w for w in _WORD_GAP.split(text) if w.strip()]
        if len(words) > 1:
            return " ".join(w.replace(" ", "") for w in words)
        return text.replace(" ", "")
    return _SPACED.sub(_join_spaced, text)


def _plain(text: str) -> str:
    """Spacing, homoglyphs and invisible characters undone (no decoding)."""
    out = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    out = _unspace(fold_homoglyphs(out))
    return _SPACES.sub(" ", out).strip()


def _squeezed(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def reveal(text: str) -> str | None:
    """``text`` with spacing, homoglyphs, invisible characters and encodings undone; None
    when none was found."""
    out = text
    for payload in encoded_payloads(text):
        out = out.replace(payload.raw, f" {payload.text} ", 1)
    out = _plain(out)
    return None if out == _squeezed(text) else out


@dataclass(frozen=True)
class Views:
    """What to judge in place of a text that hid something: ``revealed`` (the revealed text,
    or each decoded payload, letters undisguised) and the visible ``wrapper`` around encoded
    payloads (None when there were none, or it has too few words to say anything)."""

    revealed: list[str] = field(default_factory=list)
    wrapper: str | None = None

    def __bool__(self) -> bool:
        return bool(self.revealed)


def views(text: str) -> Views:
    """The texts to judge in place of ``text``: empty when nothing was hidden; the revealed
    text when only letters were disguised; else each decoded payload, and the wrapper apart."""
    payloads = encoded_payloads(text)
    if not payloads:
        shown = reveal(text)
        return Views() if shown is None else Views([shown])
    wrapper = text
    for payload in payloads:
        wrapper = wrapper.replace(payload.raw, " ", 1)
    visible = _plain(wrapper)
    return Views(
        [_plain(p.text) for p in payloads],
        visible if len(visible.split()) >= MIN_WRAPPER_WORDS else None,
    )
