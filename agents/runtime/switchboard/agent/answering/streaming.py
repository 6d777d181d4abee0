"""The agent's side of a streamed answer: what leaves, in what order, and when it is taken back.

:class:`AnswerStream` is what the runtime and the LLM loop emit to. It screens text before it
leaves (``output_screen.StreamScreen``: per delta, or per sentence held back until screened,
as ``SWITCHBOARD_STREAM_SCREEN`` says; what it flags is withheld and the runtime then resets
and answers offline), resets only when something was shown, and at the end reconciles with
the final answer: when the text shown differs from it (an escalation, a rewrite), a reset
and the final text follow, so the text since the last reset always equals the final
answer's. Citations not yet sent go last.

:class:`TextRelay` turns one LLM turn's raw deltas into what the final answer will read:
citation markers renumbered in order of first mention (``[3]`` -> ``[1]``, a marker for no
passage dropped, exactly as ``answers.written`` renumbers the whole text), leading and
trailing whitespace held back (the final text is stripped), a marker split across deltas
held until complete. It also counts output tokens as they arrive and stops the stream with
RESOURCE_EXHAUSTED when the request's budget is spent. Under strict grounding
(``llm.uncited: escalate``) a turn's text is held until its first citation marker: text that
never cites a passage would be escalated, and held, it was never shown (no reset to take it
back); text that does cite is released at its first marker and streams on as usual.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from switchboard.agent.answering.answers import citation
from switchboard.agent.answering.output_screen import StreamScreen
from switchboard.agent.answering.prompting import MARKER, estimate_tokens, marker_passages
from switchboard.agent.knowledge.store import Hit
from switchboard.core.errors import ResourceExhausted
from switchboard.core.streaming import (
    RESET_REWRITTEN,
    AnswerEvent,
    CitationFound,
    Reset,
    StreamedText,
    TextDelta,
    UsageSoFar,
    sentences_of,
)
from switchboard.core.types import AgentAnswer

Emit = Callable[[AnswerEvent], Awaitable[None]]

#: The start of a marker the next delta may complete: "[", "[1", "[1, ", "[1,2"...
_OPEN_MARKER = re.compile(r"\[(?:\d{1,2}\s*,\s*)*\d{0,2}\s*$")
#: A usage event at most every this many (estimated) output tokens.
USAGE_EVERY_TOKENS = 16


class AnswerStream:
    """One answer's events on their way out (``emit`` writes them to the wire)."""

    #: Held text is screened and released at a sentence end or at this length.
    HOLD_CHARS = 200

    def __init__(self, emit: Emit, *, hold_sentences: bool = False) -> None:
        self._emit = emit
        self._hold = hold_sentences
        self.shown = StreamedText()
        self.withheld = False
        self._screen: StreamScreen | None = None
        self._held = ""  # sentence mode: text waiting for its screening
        self._unchecked = ""  # shown text whose sentence is not finished yet
        self._open = ""  # token mode: the end of a word that may become a link, held

    def screen_with(self, screen: StreamScreen) -> None:
        """Text leaves only as ``screen`` lets it (see the module and ``StreamingSettings``)."""
        self._screen = screen

    async def emit(self, event: AnswerEvent) -> None:
        if isinstance(event, TextDelta):
            if self.withheld or not event.text:
                return
            if self._screen is not None:
                await self._screened(self._screen, event.text)
                return
        elif isinstance(event, Reset):
            self.withheld, self._held, self._unchecked, self._open = False, "", "", ""
            if not (self.shown.text or self.shown.citations):
                return  # nothing to take back
        await self._out(event)

    async def _out(self, event: AnswerEvent) -> None:
        self.shown.apply(event)
        await self._emit(event)

    async def _screened(self, screen: StreamScreen, text: str) -> None:
        if self._hold:  # sentence mode: everything held until its sentence is screened
            self._held += text
            if not _SENTENCE_END.search(self._held) and len(self._held) < self.HOLD_CHARS:
                return
            text, self._held = self._held, ""
        else:  # token mode: a word that may become a link waits until it is whole
            pending = self._open + text
            cut = _after_last_space(pending)
            tail = pending[cut:]
            self._open = tail if _LINKISH.search(tail) else ""
            text = pending if not self._open else pending[:cut]
            if not text:
                return
        shown = self.shown.text + text
        # The window covers all of ``text`` however long (held text is released at once).
        window = shown[-(len(text) + StreamScreen.WINDOW_CHARS) :]
        verdict = screen.quick(len(shown), window, text)
        if self._hold and not verdict.flagged:
            verdict = screen.sentence(self._unchecked + text)
        if verdict.flagged:
            self.withheld = True  # not shown; the runtime resets and answers otherwise
            return
        await self._out(TextDelta(text))
        self._unchecked += text
        if self._hold:
            self._unchecked = _after_last_sentence(self._unchecked)
            return
        if _SENTENCE_END.search(self._unchecked) is not None:
            finished = self._unchecked[: _last_end(self._unchecked)]
            self._unchecked = _after_last_sentence(self._unchecked)
            if screen.sentence(finished).flagged:
                self.withheld = True  # shown already: the runtime's reset takes it back

    async def reset(self, reason: str) -> None:
        await self.emit(Reset(reason))

    async def sentences(self, text: str) -> None:
        """``text`` sentence by sentence (the offline answer, screened already)."""
        for piece in sentences_of(text):
            await self._out(TextDelta(piece))

    async def finish(self, answer: AgentAnswer) -> None:
        """Makes what was shown equal the final answer (screened as a whole by the runtime),
        citations included."""
        held = self._held + self._open
        if held and self.shown.text + held == answer.text:
            await self._out(TextDelta(held))  # the last sentence or word, still held
        self._held = self._open = ""
        if self.shown.text != answer.text:
            await self.reset(RESET_REWRITTEN)
            await self.sentences(answer.text)
        for i, c in enumerate(answer.citations, start=1):
            if self.shown.citations.get(i) != c:
                await self._out(CitationFound(i, c))


_SENTENCE_END = re.compile(r"[.!?\n]")


def _last_end(text: str) -> int:
    return max(text.rfind(c) for c in ".!?\n") + 1


def _after_last_sentence(text: str) -> str:
    return text[_last_end(text) :]


#: A word with these may be (part of) a link: it is held until whole, then checked.
_LINKISH = re.compile(r"[@/:]|\.\w|www", re.IGNORECASE)


def _after_last_space(text: str) -> int:
    """Where the last (unfinished) word of ``text`` starts."""
    for i in range(len(text) - 1, -1, -1):
        if text[i].isspace():
            return i + 1
    return 0


class TextRelay:
    """One LLM turn's deltas, as the final answer will read them."""

    def __init__(
        self,
        stream: AnswerStream,
        passages: list[Hit],
        *,
        output_cap: int | None,
        input_tokens: int,
        earlier_output: int,
        until_cited: bool = False,
    ) -> None:
        """``until_cited``: hold the text until it cites a passage (strict grounding, when no
        tool result grounds the answer); what never cites is not shown: ``finish`` reconciles
        with whatever the final answer turns out to be."""
        self._stream = stream
        self._passages = passages
        self._cap = output_cap
        self._input = input_tokens
        self._earlier = earlier_output
        self._order: dict[int, int] = {}
        self._pending = ""  # a marker not yet complete
        self._until_cited = until_cited
        self._uncited = ""  # strict grounding: text before the first citation, held
        self._space = ""  # trailing whitespace, shown only if more text follows
        self._started = False
        self._reported = 0
        self.raw = ""

    async def __call__(self, delta: str) -> None:
        self.raw += delta
        tokens = estimate_tokens(self.raw)
        if self._cap is not None and tokens > self._cap:
            raise ResourceExhausted(
                f"token budget spent while the answer was being written ({tokens} output "
                f"tokens, {self._cap} allowed); raise x-switchboard-budget-tokens to allow more"
            )
        buffer = self._pending + delta
        open_marker = _OPEN_MARKER.search(buffer)
        cut = open_marker.start() if open_marker else len(buffer)
        safe, self._pending = buffer[:cut], buffer[cut:]
        new: list[int] = []  # passages first cited in this delta
        out = MARKER.sub(lambda m: self._swap(m, new), safe)
        for old in new:
            await self._stream.emit(
                CitationFound(self._order[old], citation(self._passages[old - 1]))
            )
        if self._holding:
            self._uncited += out
            out = ""
        elif self._uncited:
            out, self._uncited = self._uncited + out, ""
        await self._text(out)
        if tokens - self._reported >= USAGE_EVERY_TOKENS:
            self._reported = tokens
            await self._stream.emit(UsageSoFar(self._input, self._earlier + tokens))

    @property
    def _holding(self) -> bool:
        """Strict grounding, and nothing cited yet: the text is held."""
        return self._until_cited and not self._order

    def _swap(self, match: re.Match[str], new: list[int]) -> str:
        """As ``renumber_markers`` will write the marker in the final answer."""
        out = []
        for old in marker_passages(match):
            if not 1 <= old <= len(self._passages):
                continue
            if old not in self._order:
                self._order[old] = len(self._order) + 1
                new.append(old)
            out.append(f"[{self._order[old]}]")
        return "".join(out)

    async def _text(self, out: str) -> None:
        if not self._started:
            out = out.lstrip()
            if not out:
                return
            self._started = True
        body = out.rstrip()
        if not body:
            self._space += out
            return
        text, self._space = self._space + body, out[len(body) :]
        await self._stream.emit(TextDelta(text))

    async def close(self) -> None:
        """The turn ended: a marker left open was text after all (unless the text is held
        for want of a citation: then none of it is shown)."""
        pending, self._pending = self._pending, ""
        if pending and not self._holding:
            await self._text(pending)
