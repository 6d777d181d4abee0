"""Where a chunk's sentences sit: which belong to a list, and which line introduces it.

The stored sentences (``knowledge.sentences``) are flat; the offline answer needs to know that
"Note the invoice number and the dates of both charges." is step 1 of the list introduced by
"If the same invoice has been charged twice:", so a how-to is answered with every step in
order, and a lead-in that matches the question brings its list with it. The layout is read
from the chunk's text (numbered and bulleted lines) and matched to the stored sentences by
their text, so it costs no embedding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from switchboard.agent.knowledge.sentences import split_sentences

_ORDERED = re.compile(r"^\s*\d+[.)]\s+")
_BULLET = re.compile(r"^\s*[-*+]\s+")
# A line that opens with a bold phrase ("**Zap does not trigger.** Make sure ..."; "- **Windows:
# blank window.** Caused by ..."): the phrase is the title of what follows on the line.
_TITLED = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?\*\*[^*]+\*\*")


@dataclass
class Block:
    """One list of a chunk: its items' sentence indexes (in order) and its lead-in's."""

    ordered: bool
    items: list[list[int]] = field(default_factory=list)  # sentence indexes per item
    lead_in: int | None = None

    @property
    def sentences(self) -> list[int]:
        return [k for item in self.items for k in item]


@dataclass
class Layout:
    blocks: list[Block]
    block_of: dict[int, int]  # sentence index -> block index
    introduces: dict[int, int]  # lead-in sentence index -> block index
    paragraph: dict[int, list[int]] = field(default_factory=dict)  # sentence -> its line's
    titled: set[int] = field(default_factory=set)  # sentences that are their line's bold title

    def in_list(self, index: int, *, ordered: bool = False) -> bool:
        """Is sentence ``index`` in (or the lead-in of) a list (an ordered one, if asked)?"""
        b = self.block_of.get(index, self.introduces.get(index))
        return b is not None and (self.blocks[b].ordered or not ordered)

    def in_short_list(self, index: int, most: int) -> bool:
        """Is sentence ``index`` a lead-in, or in a list of at most ``most`` items?"""
        if index in self.introduces:
            return True
        b = self.block_of.get(index)
        return b is not None and len(self.blocks[b].items) <= most

    def fragment(self, index: int, text: str) -> bool:
        """A list item that finishes its lead-in's sentence ("Every password must:" "be at
        least 12 characters long"): it answers only when quoted under that lead-in."""
        return index in self.block_of and text[:1].islower()


def _find(texts: tuple[str, ...], wanted: str, start: int, taken: set[int]) -> int | None:
    for k in range(start, len(texts)):
        if k not in taken and texts[k] == wanted:
            return k
    for k in range(start):
        if k not in taken and texts[k] == wanted:
            return k
    return None


def layout(text: str, texts: tuple[str, ...]) -> Layout:
    """The lists of chunk ``text`` in terms of its sentences ``texts`` (empty if none)."""
    blocks: list[Block] = []
    paragraph: dict[int, list[int]] = {}
    titled: set[int] = set()
    current: Block | None = None
    last_prose: int | None = None
    taken: set[int] = set()
    cursor = 0
    in_code = False
    for raw in text.splitlines():
        if raw.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or not raw.strip() or raw.lstrip().startswith(("#", "|")):
            continue  # a blank line does not end a list; the next prose line does
        ordered, bullet = _ORDERED.match(raw), _BULLET.match(raw)
        found: list[int] = []
        for sentence in split_sentences(raw):
            k = _find(texts, sentence, cursor, taken)
            if k is not None:
                found.append(k)
                taken.add(k)
                cursor = k + 1
        if not found:
            continue
        for k in found:
            paragraph[k] = found
        if _TITLED.match(raw):
            titled.add(found[0])
        if ordered or bullet:
            indented = raw.startswith((" ", "\t"))
            kind = bool(ordered)
            if current is None or (current.ordered != kind and not indented):
                current = Block(ordered=kind)
                blocks.append(current)
                if last_prose is not None and texts[last_prose].endswith(":"):
                    current.lead_in = last_prose
            if indented and current.items:
                current.items[-1].extend(found)
            else:
                current.items.append(found)
            last_prose = None
        else:
            current = None
            last_prose = found[-1]
    block_of = {k: b for b, block in enumerate(blocks) for k in block.sentences}
    introduces = {block.lead_in: b for b, block in enumerate(blocks) if block.lead_in is not None}
    return Layout(blocks, block_of, introduces, paragraph, titled)
