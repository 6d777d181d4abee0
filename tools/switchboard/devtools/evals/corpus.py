"""How SciFact documents become chunks under each chunking strategy."""

from __future__ import annotations

from switchboard.agent.knowledge.chunking import fixed_chunks, structure_chunks

CHUNK_SIZE = 900
CHUNK_OVERLAP = 150
STRATEGIES = ("document", "fixed", "structure")
# What `make eval` measures: the chunking the demo agents ship (their agent.yaml). Each
# strategy embeds 5-12k SciFact chunks cold (the shipped one about 6 minutes on 2 cores, twice
# that on a slow CI machine), so comparing all three is its own target, `make eval-retrieval`.
SHIPPED_STRATEGIES = ("structure",)


def document_chunks(strategy: str, title: str, text: str) -> list[str]:
    """``document``: title + abstract as one chunk; ``fixed``: character windows;
    ``structure``: the agents' heading-aware chunker (each chunk carries the title)."""
    if strategy == "document":
        return [f"{title}\n\n{text}".strip()]
    if strategy == "fixed":
        return [c.text for c in fixed_chunks(f"{title}\n\n{text}", CHUNK_SIZE, CHUNK_OVERLAP)]
    if strategy == "structure":
        return [c.text for c in structure_chunks(f"# {title}\n\n{text}", CHUNK_SIZE, CHUNK_OVERLAP)]
    raise ValueError(f"unknown chunking strategy {strategy!r}")
