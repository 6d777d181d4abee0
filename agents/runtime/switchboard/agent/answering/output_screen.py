"""Screens every answer before it leaves the agent: what the model wrote is not trusted either.

Three checks, each with a reason code for the audit:

* ``size``: longer than ``max_chars`` (a runaway or hostile model; 200 KB answers).
* ``prompt_leak``: the answer repeats the agent's own instructions: a run of ``leak_words``
  consecutive words of the system prompt (rules included) that no passage or tool output of
  this request contains.
* ``unsupported_link`` / ``rule:<name>``: instructions aimed at the user that no source
  supports: a URL, web or e-mail address found in none of the request's passages, tool
  outputs or the agent's prompt, or text the guard's indirect rules flag (hand your password
  to an address, ignore your instructions...).

A flagged answer never reaches the caller (the runtime answers offline or escalates), so the
replay store only ever holds a screened answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from switchboard.guard.links import unsupported_links
from switchboard.guard.rules import match_rules

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class OutputVerdict:
    flagged: bool
    reason: str = ""
    evidence: str = ""  # what tripped it (a link, the leaked words), clipped; never the answer


CLEAN = OutputVerdict(False)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _shingles(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class OutputScreen:
    def __init__(self, system_prompt: str, *, max_chars: int, leak_words: int = 10) -> None:
        self._max_chars = max_chars
        self._n = leak_words
        self._prompt = _shingles(_words(system_prompt), leak_words)
        self._prompt_text = system_prompt.lower()

    def check(self, text: str, sources: Iterable[str]) -> OutputVerdict:
        """The verdict on ``text``, given what it may draw on (passages, tool outputs)."""
        if len(text) > self._max_chars:
            return OutputVerdict(True, "size", f"{len(text)} > {self._max_chars} characters")
        corpus = "\n".join(sources)
        leaked = (self._prompt & _shingles(_words(text), self._n)) - _shingles(
            _words(corpus), self._n
        )
        if leaked:
            return OutputVerdict(True, "prompt_leak", " ".join(next(iter(sorted(leaked))))[:120])
        unsupported = unsupported_links(text, corpus + "\n" + self._prompt_text)
        if unsupported:
            return OutputVerdict(True, "unsupported_link", unsupported[0][:120])
        hits = match_rules(text, "indirect")
        if hits:
            return OutputVerdict(True, f"rule:{hits[0].rule}", hits[0].excerpt)
        return CLEAN

    def streaming(self, sources: Callable[[], Sequence[str]]) -> StreamScreen:
        """Checks for text streamed piece by piece (``answering/streaming.py``)."""
        return StreamScreen(self, sources)


class StreamScreen:
    """The same checks, cheap enough to run as an answer streams: size on the whole text,
    prompt leak and links on a window around the new text (per delta), the guard's rules per
    finished sentence (they cost about 6 ms per 1000 characters: once per sentence, not per
    delta). ``sources`` is read at each check (tool outputs arrive between turns); its
    shingles are kept until it changes."""

    WINDOW_CHARS = 400

    def __init__(self, screen: OutputScreen, sources: Callable[[], Sequence[str]]) -> None:
        self._screen = screen
        self._sources = sources
        self._seen = -1
        self._corpus = ""
        self._corpus_shingles: set[tuple[str, ...]] = set()

    def _refresh(self) -> None:
        sources = self._sources()
        if len(sources) != self._seen:
            self._seen = len(sources)
            self._corpus = "\n".join(sources)
            self._corpus_shingles = _shingles(_words(self._corpus), self._screen._n)

    def quick(self, shown: str) -> OutputVerdict:
        """Size of ``shown``, and leaks or links in its last few hundred characters."""
        s = self._screen
        if len(shown) > s._max_chars:
            return OutputVerdict(True, "size", f"{len(shown)} > {s._max_chars} characters")
        self._refresh()
        window = shown[-self.WINDOW_CHARS :]
        leaked = (s._prompt & _shingles(_words(window), s._n)) - self._corpus_shingles
        if leaked:
            return OutputVerdict(True, "prompt_leak", " ".join(next(iter(sorted(leaked))))[:120])
        unsupported = unsupported_links(window, self._corpus + "\n" + s._prompt_text)
        if unsupported:
            return OutputVerdict(True, "unsupported_link", unsupported[0][:120])
        return CLEAN

    def sentence(self, text: str) -> OutputVerdict:
        """The guard's indirect rules on finished sentences."""
        hits = match_rules(text, "indirect")
        return OutputVerdict(True, f"rule:{hits[0].rule}", hits[0].excerpt) if hits else CLEAN
