"""Labelled examples for the guard's classifier: the shipped set plus any files named in env.

A file is JSON lines with ``text`` and ``label`` (1 = injection, 0 = benign); an optional
``source`` (``user``, ``retrieved`` or ``tool``) says where such text would arrive.
``SWITCHBOARD_GUARD_EXAMPLES`` names extra files, comma-separated.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from switchboard.core.errors import ConfigurationError

SHIPPED_EXAMPLES = Path(__file__).with_name("examples.jsonl")
# Written for issue 17 from general attack taxonomies (instruction override, goal hijacking,
# persona and role-play, prompt leaking, payload splitting, refusal suppression, fake
# authority; English, German and ten other languages) beside general-purpose benign requests,
# so that "not about billing" stops reading as "injection". A quarter of what was written is
# held out in tests/data/security/taxonomy_heldout.jsonl and never trained on.
TAXONOMY_EXAMPLES = Path(__file__).with_name("examples_taxonomy.jsonl")
SHIPPED_FILES = (SHIPPED_EXAMPLES, TAXONOMY_EXAMPLES)
EXAMPLES_ENV = "SWITCHBOARD_GUARD_EXAMPLES"
SOURCES = ("user", "retrieved", "tool")


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    source: str = "user"


def load_examples(path: Path) -> list[Example]:
    """Reads one JSON-lines file; a malformed line is a configuration error naming the line."""
    out: list[Example] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"guard examples {path}: {exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = row["text"], int(row["label"])
            source = str(row.get("source", "user"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"guard examples {path}:{n}: {exc}") from exc
        if not isinstance(text, str) or not text.strip() or label not in (0, 1):
            raise ConfigurationError(f"guard examples {path}:{n}: need non-empty text, label 0/1")
        out.append(Example(text, label, source if source in SOURCES else "user"))
    return out


def extra_example_paths(value: str | None = None) -> list[Path]:
    """The files named in ``SWITCHBOARD_GUARD_EXAMPLES`` (or ``value``), comma-separated."""
    raw = os.environ.get(EXAMPLES_ENV, "") if value is None else value
    return [Path(p.strip()).expanduser() for p in raw.split(",") if p.strip()]


def training_examples(extra: Sequence[Path] = ()) -> list[Example]:
    """The shipped examples followed by each extra file's, duplicates (same text) dropped."""
    seen: set[str] = set()
    out: list[Example] = []
    for path in (*SHIPPED_FILES, *extra):
        for ex in load_examples(path):
            if ex.text not in seen:
                seen.add(ex.text)
                out.append(ex)
    return out


def examples_hash(examples: Iterable[Example], *salt: str) -> str:
    digest = hashlib.sha256()
    for part in salt:
        digest.update(part.encode())
        digest.update(b"\x00")
    for ex in examples:
        digest.update(f"{ex.label}\x01{ex.source}\x01".encode())
        digest.update(ex.text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()
