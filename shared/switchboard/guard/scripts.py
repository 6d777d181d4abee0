"""The script a letter is written in, read from its Unicode name ("CYRILLIC SMALL LETTER O").

Shared by the homoglyph folding (is this letter Latin?) and the language guess (which script
dominates a request); cached, since both ask about the same few letters over and over.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def script_of(char: str) -> str:
    """The first word of ``char``'s Unicode name: "LATIN", "CYRILLIC", "CJK", "HANGUL"... ("" for
    a character with no name)."""
    return unicodedata.name(char, "").split(" ", 1)[0]
