"""Knowledge that disagrees with itself: passages of different agents that say different things.

Two agents' documents can answer the same question differently (issue 17: support said API
tokens start with one prefix and never need to expire, account said another prefix and at
most a year). A customer finds that out from two contradicting answers. This report finds it
at ingest time instead: for every pair of agents it compares their stored sentences (the
embeddings ingest already keeps, ``knowledge.sentences``), and where two sentences say nearly
the same thing (cosine >= ``SAME_CLAIM``, or ``SAME_NAME`` when they name different token
prefixes) but state different values of the same kind, it lists them. Values are read with
rules, no model: numbers with what they count ("20 active tokens", "90 days", "$12"),
identifiers' prefixes (``blp_``) and plan names (Free, Team, Business, Enterprise). A pair
whose values of one kind differ (neither includes the other's) is a conflict; sentences with
no values of a common kind cannot contradict in a way rules can see and are not reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.sentences import decode
from switchboard.agent.knowledge.store import VectorStore, open_store
from switchboard.agent.settings import AgentSettings

SAME_CLAIM = 0.8  # sentence cosine: the two sentences make the same kind of statement
SAME_NAME = 0.45  # ... enough when they name look-alike identifiers ("blp_" and "blt_")

_NUMBER = re.compile(
    r"(?P<cur>[$€£])?(?P<n>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>%|[a-z]+(?:[- ][a-z]+)?)?", re.I
)
_PREFIX = re.compile(r"(?<![\w/])`?([a-z]{2,8}_)`?(?=[\s`.,;)]|$)")
_PLANS = ("Free", "Team", "Business", "Enterprise")
_PLAN = re.compile(r"\b(" + "|".join(_PLANS) + r")\b")
_UNIT_WORDS = re.compile(r"^(?:and|or|to|of|per|a|an|the|in|on|at|for|with|x)\b", re.I)
#: Words between a number and what it counts: "20 active tokens" counts tokens.
_MODIFIERS = frozenset(
    [
        "active",
        "additional",
        "extra",
        "failed",
        "consecutive",
        "more",
        "new",
        "open",
        "paid",
        "free",
        "business",
        "calendar",
        "incorrect",
        "unused",
        "other",
        "separate",
        "full",
    ]
)


def values(sentence: str) -> dict[str, set[str]]:
    """The values a sentence states, by kind: ``number:<unit>`` -> the numbers, ``prefix``,
    ``plan``."""
    out: dict[str, set[str]] = {}
    for m in _NUMBER.finditer(sentence):
        unit = (m.group("unit") or "").lower()
        words = [] if not unit or _UNIT_WORDS.match(unit) else unit.replace("-", " ").split()
        if len(words) > 1 and words[0] in _MODIFIERS:
            words = words[1:]
        unit = words[0] if words else ""
        if m.group("cur"):
            unit = m.group("cur")
        if not unit:
            continue
        unit = unit.rstrip("s") if len(unit) > 3 else unit
        out.setdefault(f"number:{unit}", set()).add(m.group("n").replace(",", ""))
    prefixes = set(_PREFIX.findall(sentence))
    if prefixes:
        out["prefix"] = prefixes
    plans = set(_PLAN.findall(sentence))
    if plans:
        out["plan"] = plans
    return out


def disagreement(a: str, b: str) -> list[str]:
    """The kinds of value both sentences state with different values: neither sentence's
    values of that kind include the other's ("14 days" agrees with "14 days ... 30 days").
    Prefixes disagree only when they look alike (same first two letters): ``req_`` and
    ``blp_`` name different things, ``blp_`` and ``blt_`` the same thing twice."""
    va, vb = values(a), values(b)
    kinds = [k for k in va.keys() & vb.keys() if not (va[k] <= vb[k] or vb[k] <= va[k])]
    if "prefix" in kinds and not {p[:2] for p in va["prefix"]} & {p[:2] for p in vb["prefix"]}:
        kinds.remove("prefix")
    return sorted(kinds)


@dataclass(frozen=True)
class Conflict:
    agents: tuple[str, str]
    sources: tuple[str, str]
    sentences: tuple[str, str]
    similarity: float
    kinds: tuple[str, ...]

    def line(self) -> str:
        (a, b), (sa, sb) = self.agents, self.sources
        return (
            f"{a}/{sa} vs {b}/{sb} (similarity {self.similarity:.2f}, differ in "
            f"{', '.join(self.kinds)}):\n  {a}: {self.sentences[0]}\n  {b}: {self.sentences[1]}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Knowledge:
    sources: list[str]  # per sentence: its document
    texts: list[str]
    vectors: np.ndarray  # one row per sentence


def _load(store: VectorStore, trusted: set[str] | None) -> _Knowledge:
    chunks, _ = store.all_chunks()
    sources: list[str] = []
    texts: list[str] = []
    blocks = []
    for chunk in chunks:
        if trusted is not None and str(chunk.metadata.get("origin", "")) not in trusted:
            continue
        _, found = decode(chunk.metadata)
        if found is None or not found.texts:
            continue
        sources.extend([str(chunk.metadata.get("source", chunk.id))] * len(found.texts))
        texts.extend(found.texts)
        blocks.append(found.vectors)
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, 0), dtype=np.float32)
    return _Knowledge(sources, texts, vectors)


def find_conflicts(
    stores: Mapping[str, VectorStore],
    *,
    trusted: dict[str, set[str]] | None = None,
    same_claim: float = SAME_CLAIM,
    same_name: float = SAME_NAME,
) -> list[Conflict]:
    """Every pair of near-identical sentences of two different agents that state different
    values; ``trusted`` limits each agent to the ingestion sources it serves. Every sentence
    of one agent is compared with every sentence of the other: one matrix product."""
    kb = {a: _load(s, (trusted or {}).get(a)) for a, s in stores.items()}
    names = sorted(kb)
    out: list[Conflict] = []
    seen: set[tuple[str, str]] = set()
    for x, a in enumerate(names):
        for b in names[x + 1 :]:
            ka, kb_ = kb[a], kb[b]
            if not ka.texts or not kb_.texts:
                continue
            sims = ka.vectors @ kb_.vectors.T
            for p, q in np.argwhere(sims >= min(same_claim, same_name)):
                ta, tb = ka.texts[p], kb_.texts[q]
                kinds = disagreement(ta, tb)
                close = sims[p, q] >= same_claim or ("prefix" in kinds and sims[p, q] >= same_name)
                if not kinds or not close or (ta, tb) in seen:
                    continue
                seen.add((ta, tb))
                out.append(
                    Conflict(
                        (a, b),
                        (ka.sources[p], kb_.sources[q]),
                        (ta, tb),
                        round(float(sims[p, q]), 3),
                        tuple(kinds),
                    )
                )
    return sorted(out, key=lambda c: -c.similarity)


def conflicts_of(configs: list[AgentConfig], settings: AgentSettings) -> list[Conflict]:
    """The conflicts between the stores of ``configs`` (each limited to its trusted sources),
    as ``switchboard ingest`` reports them after ingesting."""
    stores: dict[str, VectorStore] = {c.name: open_store(c, settings) for c in configs}
    trusted = {c.name: set(c.retrieval.trusted_sources) for c in configs}
    return find_conflicts(stores, trusted=trusted)
