"""Undoing the ways attackers hide an instruction from a text screen, before the rules and the
classifier look at it.

* letters spaced out ("i g n o r e   a l l   p r e v i o u s"), or joined by dots, dashes,
  underscores or stars: runs of four or more single letters are joined back into words;
* homoglyphs: Cyrillic and Greek letters that look like Latin ones ("ignore" written with a
  Cyrillic i, o and e) in text that also has Latin letters are mapped to the Latin letter;
  compatibility
  forms (full-width, mathematical letters) fold under NFKC;
* invisible characters (zero-width spaces and joiners, soft hyphens) are removed;
* base64: a run of 16 or more base64 characters that decodes to readable UTF-8 text is
  replaced by that text.

:func:`reveal` returns the rewritten text, or None when there was nothing of the kind (the
usual case: then nothing more is screened). The guard screens both the text as written and
the revealed text, and blocks when either is blocked, so a rewrite can only add detections.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

_INVISIBLE = re.compile(r"[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACED = re.compile(r"(?<![^\s\"'(\[])((?:[^\W\d_][ .\-_*·]){3,}[^\W\d_])(?![^\s\"').,!?:;\]])")
_SEPARATOR = re.compile(r"[ .\-_*·]")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_LATIN = re.compile(r"[a-zA-Z]")
_SPACES = re.compile(r"[ \t]{2,}")

# Cyrillic and Greek letters drawn like Latin ones (lower and upper case).
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "ԁ": "d", "ɡ": "g", "ո": "n", "ս": "u", "А": "A", "В": "B", "Е": "E", "К": "K",
        "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "І": "I",
        "Ј": "J", "Ѕ": "S", "α": "a", "ο": "o", "ρ": "p", "ε": "e", "ι": "i", "κ": "k",
        "ν": "v", "τ": "t", "υ": "u", "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z",
        "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T",
        "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
MIN_PRINTABLE = 0.9
SPACED_MIN_TOKENS = 6
SPACED_SHARE = 0.6
_WORD_GAP = re.compile(r"\s{2,}|\s/\s")


def _decode_base64(match: re.Match[str]) -> str:
    token = match.group(0)
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return token
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    if not text or printable / len(text) < MIN_PRINTABLE or " " not in text.strip():
        return token  # an id or a key, not words
    return f" {text} "


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


def reveal(text: str) -> str | None:
    """``text`` with spacing, homoglyphs, invisible characters and base64 undone; None when
    none was found."""
    out = _BASE64.sub(_decode_base64, text)
    out = _INVISIBLE.sub("", unicodedata.normalize("NFKC", out))
    if _LATIN.search(out):
        out = out.translate(_CONFUSABLES)
    out = _unspace(out)
    out = _SPACES.sub(" ", out).strip()
    if out == _SPACES.sub(" ", text).strip():
        return None
    return out
