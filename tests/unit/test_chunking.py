from __future__ import annotations

import itertools

from switchboard.agent.knowledge.chunking import (
    chunk_document,
    document_title,
    fixed_chunks,
    structure_chunks,
)

DOC = """# Refund policy

Intro paragraph about refunds.

## Annual plans

You can get a full refund within 30 days.

After 30 days annual payments are not refundable.

## Monthly plans

```
# not a heading inside code
```

Monthly payments are refundable within 7 days of the first payment.
"""


def test_fixed_chunks_cover_text_with_overlap() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    chunks = fixed_chunks(text, size=200, overlap=50)
    assert len(chunks) > 5
    assert all(len(c.text) <= 200 for c in chunks)
    # every word appears in some chunk, and neighbours share words (the overlap)
    joined = " ".join(c.text for c in chunks)
    assert all(f"word{i}" in joined for i in range(400))
    for a, b in itertools.pairwise(chunks):
        assert set(a.text.split()) & set(b.text.split())
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_fixed_chunks_always_advance_on_unbroken_text() -> None:
    chunks = fixed_chunks("x" * 1000, size=100, overlap=99)
    assert chunks and sum(len(c.text) for c in chunks) >= 1000


def test_structure_chunks_follow_headings() -> None:
    chunks = structure_chunks(DOC, size=900, overlap=100)
    headings = [c.heading for c in chunks]
    assert headings == [
        "Refund policy",
        "Refund policy > Annual plans",
        "Refund policy > Monthly plans",
    ]
    annual = chunks[1]
    assert annual.text.startswith("Refund policy > Annual plans\n\n")
    assert "30 days" in annual.text and "7 days" not in annual.text
    assert "# not a heading inside code" in chunks[2].text


def test_structure_chunks_split_large_sections_but_never_merge_sections() -> None:
    body = "\n\n".join(f"Paragraph {i} " + "lorem ipsum " * 20 for i in range(10))
    text = f"# T\n\n## A\n\n{body}\n\n## B\n\nshort"
    chunks = structure_chunks(text, size=600, overlap=50)
    a_chunks = [c for c in chunks if c.heading == "T > A"]
    assert len(a_chunks) > 2
    assert all(len(c.text) <= 600 + len("T > A\n\n") for c in a_chunks)
    assert chunks[-1].heading == "T > B" and chunks[-1].text.endswith("short")


def test_strategies_differ_and_title_is_found() -> None:
    assert chunk_document(DOC, "fixed", 120, 20) != chunk_document(DOC, "structure", 120, 20)
    assert document_title(DOC, "fallback") == "Refund policy"
    assert document_title("no heading", "fallback") == "fallback"
