"""The rest of a section a retrieved chunk belongs to.

Structure-aware chunking cuts a long section into several chunks that share its heading; the
retrieved one may hold the section's closing remarks while its numbered steps sit in the
chunk before ("Resetting a forgotten password": the steps are chunk 3, the notes chunk 4).
The offline answer quotes whole steps, so it is given the neighbouring chunks (``source::n``
with n one less or one more) that carry the same heading. They are read by id, scored
against the query like any hit, and go through the same provenance and injection screening.
"""

from __future__ import annotations

from switchboard.agent.knowledge.store import Hit, VectorStore
from switchboard.core.embeddings import Vector


def neighbour_ids(hit: Hit) -> list[str]:
    source, sep, index = hit.id.rpartition("::")
    if not sep or not index.isdigit():
        return []
    n = int(index)
    return [f"{source}::{i}" for i in (n - 1, n + 1) if i >= 0]


def same_section(store: VectorStore, hits: list[Hit], query: Vector) -> list[Hit]:
    """Chunks next to ``hits`` under the same heading that are not among them, in order."""
    have = {h.id for h in hits}
    wanted: dict[str, set[str]] = {}
    for hit in hits:
        heading = str(hit.metadata.get("heading", ""))
        if " > " not in heading:  # a document's introduction is not a split section
            continue
        for i in neighbour_ids(hit):
            if i not in have:
                wanted.setdefault(i, set()).add(heading)
    found = store.get(list(wanted), query)
    return [h for h in found if str(h.metadata.get("heading", "")) in wanted[h.id]]
