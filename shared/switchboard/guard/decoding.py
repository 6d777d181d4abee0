"""Finding instructions hidden in an encoding: base64, hex, and ROT13 the text owns up to.

A run only counts when it decodes to readable text with at least one space (words, not an id,
a key or a hash), so ordinary requests quoting an API key or an invoice number are left alone.
ROT13 leaves no trace in the letters, so it is tried only on what follows the message naming
it ("rot13", "rot-13", "caesar"); trying it on every text would double the screening cost for
nothing.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){12,}(?![0-9A-Fa-f])")
_ROT13_NAMED = re.compile(r"\b(?:rot[-\s]?13|caesar)\b", re.IGNORECASE)
_ROT13_RUN = re.compile(r"[A-Za-z][A-Za-z ,.'!?]{15,}")
MIN_PRINTABLE = 0.9
# Short English words: a ROT13 run decodes to more of them than it shows; plain text does not.
_COMMON = frozenset(
    {
        "a", "all", "and", "are", "be", "do", "for", "i", "in", "is",
        "it", "me", "my", "no", "not", "now", "of", "on", "or", "say",
        "tell", "that", "the", "this", "to", "what", "you", "your", "ignore", "previous",
        "instructions", "prompt", "system", "rules",
    }
)  # fmt: skip


def _common_words(text: str) -> int:
    return sum(w in _COMMON for w in re.findall(r"[a-z]+", text.lower()))


@dataclass(frozen=True)
class Payload:
    """``raw`` as it stands in the text, and the ``text`` it decodes to."""

    raw: str
    text: str


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    if not text or printable / len(text) < MIN_PRINTABLE or " " not in text.strip():
        return None
    return text


def _base64(token: str) -> str | None:
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _hex(token: str) -> str | None:
    try:
        raw = bytes.fromhex(re.sub(r"[ :]", "", token))
    except ValueError:
        return None
    return _readable(raw)


def encoded_payloads(text: str) -> list[Payload]:
    """Every encoded run of ``text`` that decodes to readable words, in order of appearance."""
    found: list[tuple[int, Payload]] = []
    for pattern, decode in ((_HEX, _hex), (_BASE64, _base64)):
        for match in pattern.finditer(text):
            raw = match.group(0).strip(" :")
            if any(raw in p.raw or p.raw in raw for _, p in found):
                continue  # a hex run is also a base64 run; the first reading wins
            decoded = decode(raw)
            if decoded is not None:
                found.append((match.start(), Payload(raw, decoded)))
    named = _ROT13_NAMED.search(text)
    if named is not None:  # the encoded words follow the mention ("rot13: Vtaber nyy...")
        for match in _ROT13_RUN.finditer(text, named.end()):
            raw = match.group(0).strip()
            decoded = codecs.decode(raw, "rot13")
            if _common_words(decoded) <= _common_words(raw) or any(raw in p.raw for _, p in found):
                continue  # plain words around the encoded ones
            found.append((match.start(), Payload(raw, decoded)))
    return [p for _, p in sorted(found, key=lambda item: item[0])]
