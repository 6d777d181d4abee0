"""The sentences of each chunk, in order, with their embeddings: computed once at ingest.

The offline answer quotes whole sentences of the retrieved chunks, ranked by their similarity
to the question. Embedding those sentences per request cost 50-70 ms of model time on every
offline answer, so ingest splits each chunk into its sentences, embeds them, and stores both
with the chunk, in its metadata (one JSON list of the sentences and one base64 string of their
float32 vectors, row i for sentence i). The store hands them back with every hit, so an
offline answer embeds nothing beyond the query.

The data is kept general: every sentence of the chunk in document order (prose lines, list
items without their markers, table rows labelled by their headers), not only those today's
answer picks; which of them make a good quote is decided when answering.
``SENTENCE_SCHEMA`` versions the format; ingest folds it into each document's hash, so a
changed format re-ingests every document once.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import numpy as np

from switchboard.core.embeddings import Matrix

SENTENCE_SCHEMA = 1
SENTENCES_KEY = "sentences"
VECTORS_KEY = "sentence_vectors"
SCHEMA_KEY = "sentence_schema"
_KEYS = (SENTENCES_KEY, VECTORS_KEY, SCHEMA_KEY)

Metadata = dict[str, str | int | float | bool]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class SentenceSet:
    """A chunk's sentences in order, and their unit vectors (row i for sentence i)."""

    texts: tuple[str, ...]
    vectors: Matrix


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_sentences(rows: list[str]) -> list[str]:
    """One sentence per data row, each cell labelled by its column header.

    "| Team | 250 MB |" under "| Plan | Maximum size per file |" becomes
    "Team: Maximum size per file 250 MB", which reads on its own.
    """
    cells = [_cells(r) for r in rows if not all(set(c) <= set("-: ") for c in _cells(r))]
    if len(cells) < 2:
        return [": ".join(c for c in row if c) for row in cells]
    header, body = cells[0], cells[1:]
    out = []
    for row in body:
        labelled = [f"{h} {v}".strip() for h, v in zip(header[1:], row[1:], strict=False) if v]
        out.append(f"{row[0]}: " + "; ".join(labelled) if labelled else row[0])
    return out


def _lines(body: str) -> list[str]:
    """Prose lines, list items without their markers, and tables as labelled rows."""
    out: list[str] = []
    table: list[str] = []
    in_code = False
    for raw in [*body.splitlines(), ""]:
        if raw.lstrip().startswith("|") and not in_code:
            table.append(raw)
            continue
        if table:
            out.extend(_table_sentences(table))
            table = []
        if raw.lstrip().startswith("```"):
            in_code = not in_code
            continue
        line = _LIST_MARK.sub("", raw).strip()
        if not in_code and line and not line.startswith("#"):
            out.append(line)
    return [line.replace("**", "") for line in out]


def split_sentences(text: str, heading: str = "") -> list[str]:
    """Every sentence of a chunk, in order (the heading path prefix is not content)."""
    body = text
    if heading and body.startswith(heading):
        body = body[len(heading) :].strip()
    out: list[str] = []
    for line in _lines(body):
        out.extend(s for s in (p.strip() for p in _SENTENCE_END.split(line)) if s)
    return out


def encode(sentences: list[str], vectors: Matrix) -> Metadata:
    """The metadata fields that carry a chunk's sentences and their vectors."""
    if len(sentences) != len(vectors):
        raise ValueError("one vector per sentence")
    raw = np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    return {
        SENTENCES_KEY: json.dumps(sentences, ensure_ascii=False),
        VECTORS_KEY: base64.b64encode(raw).decode("ascii"),
        SCHEMA_KEY: SENTENCE_SCHEMA,
    }


def decode(metadata: Metadata) -> tuple[Metadata, SentenceSet | None]:
    """The chunk's other metadata, and its sentences when stored in this schema."""
    if not any(k in metadata for k in _KEYS):
        return metadata, None
    rest = {k: v for k, v in metadata.items() if k not in _KEYS}
    if metadata.get(SCHEMA_KEY) != SENTENCE_SCHEMA:
        return rest, None  # an older format: the answer splits and embeds (re-ingest fixes)
    texts = json.loads(str(metadata.get(SENTENCES_KEY, "[]")))
    if not texts:
        return rest, SentenceSet((), np.zeros((0, 0), dtype=np.float32))
    data = base64.b64decode(str(metadata.get(VECTORS_KEY, "")))
    vectors = np.frombuffer(data, dtype="<f4")
    if vectors.size % len(texts):
        return rest, None
    return rest, SentenceSet(tuple(texts), vectors.reshape(len(texts), -1))
