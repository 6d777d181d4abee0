"""Splitting documents into retrievable chunks: fixed windows, or by markdown structure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["fixed", "structure"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    heading: str  # "Title > Section" path, "" when none


def fixed_chunks(text: str, size: int, overlap: int) -> list[Chunk]:
    """Windows of about ``size`` characters sharing ``overlap``, cut at whitespace."""
    text = text.strip()
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(len(chunks), piece, ""))
        if end >= len(text):
            break
        # Step back by the overlap, to the start of a word; always move forward.
        nxt = max(end - overlap, start + 1)
        space = text.find(" ", nxt, end)
        start = space + 1 if space != -1 else nxt
    return chunks


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading path, paragraphs) per section; code fences never start a heading."""
    path: list[tuple[int, str]] = []
    sections: list[tuple[str, list[str]]] = [("", [])]
    para: list[str] = []
    in_code = False

    def flush() -> None:
        if para:
            sections[-1][1].append("\n".join(para).strip())
            para.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            para.append(line)
            continue
        match = None if in_code else _HEADING.match(line)
        if match:
            flush()
            level, title = len(match.group(1)), match.group(2)
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
            sections.append((" > ".join(t for _, t in path), []))
        elif not line.strip() and not in_code:
            flush()
        else:
            para.append(line)
    flush()
    return [(h, [p for p in ps if p]) for h, ps in sections if any(ps)]


def structure_chunks(text: str, size: int, overlap: int) -> list[Chunk]:
    """Chunks that follow headings and paragraphs; each carries its heading path.

    Paragraphs of one section are packed together up to ``size``; a paragraph longer than
    that falls back to fixed windows. Chunks never span two sections.
    """
    chunks: list[Chunk] = []

    def emit(heading: str, body: str) -> None:
        prefix = f"{heading}\n\n" if heading else ""
        chunks.append(Chunk(len(chunks), prefix + body.strip(), heading))

    for heading, paragraphs in _sections(text):
        buf: list[str] = []
        length = 0
        for para in paragraphs:
            if len(para) > size:
                if buf:
                    emit(heading, "\n\n".join(buf))
                    buf, length = [], 0
                for piece in fixed_chunks(para, size, overlap):
                    emit(heading, piece.text)
                continue
            if buf and length + len(para) + 2 > size:
                emit(heading, "\n\n".join(buf))
                buf, length = [], 0
            buf.append(para)
            length += len(para) + 2
        if buf:
            emit(heading, "\n\n".join(buf))
    return chunks


def chunk_document(text: str, strategy: Strategy, size: int, overlap: int) -> list[Chunk]:
    if strategy == "fixed":
        return fixed_chunks(text, size, overlap)
    return structure_chunks(text, size, overlap)


def section_headings(text: str) -> list[str]:
    """Every section's heading path, in document order."""
    return [heading for heading, _ in _sections(text) if heading]


def document_title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return match.group(2)
    return fallback
