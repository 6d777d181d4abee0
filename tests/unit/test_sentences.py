"""Sentences stored with their chunk: split in order, encoded into metadata, decoded back."""

from __future__ import annotations

import numpy as np

from switchboard.agent.answering.extractive import OFFLINE_NOTICE, extract_answer
from switchboard.agent.answering.quotable import usable
from switchboard.agent.knowledge.sentences import (
    SENTENCE_SCHEMA,
    SentenceSet,
    decode,
    encode,
    split_sentences,
)
from switchboard.agent.knowledge.store import Hit, InMemoryStore, StoredChunk
from tests.fakes.embedder import HashEmbedder

CHUNK = """Refunds > Annual plans
Annual plans can be refunded within 30 days. After that:
- no refund is given for the rest of the term
- you keep access until the term ends

| Plan | Refund window |
|---|---|
| Monthly | 7 days |
| Annual | 30 days |
"""


def test_every_sentence_is_kept_in_order_with_tables_as_labelled_rows() -> None:
    sentences = split_sentences(CHUNK, "Refunds > Annual plans")
    assert sentences == [
        "Annual plans can be refunded within 30 days.",
        "After that:",
        "no refund is given for the rest of the term",
        "you keep access until the term ends",
        "Monthly: Refund window 7 days",
        "Annual: Refund window 30 days",
    ]
    # which of them make a quote is decided when answering, not at ingest
    assert [usable(s) for s in sentences] == [True, False, False, False, True, True]


def test_sentence_data_round_trips_through_metadata_and_leaves_it_clean() -> None:
    texts = ["First sentence here.", "Second one, with ünïcode."]
    vectors = HashEmbedder().embed(texts)
    meta = {"source": "a.md", "title": "A", **encode(texts, vectors)}
    assert meta["sentence_schema"] == SENTENCE_SCHEMA
    rest, found = decode(meta)
    assert rest == {"source": "a.md", "title": "A"}
    assert found is not None and found.texts == tuple(texts)
    np.testing.assert_array_equal(found.vectors, vectors)


def test_an_unknown_schema_or_no_data_decodes_to_none() -> None:
    assert decode({"source": "a"}) == ({"source": "a"}, None)
    meta = {"source": "a", **encode(["x"], np.ones((1, 4), np.float32))}
    meta["sentence_schema"] = SENTENCE_SCHEMA + 1
    assert decode(meta) == ({"source": "a"}, None)


def test_the_store_hands_sentences_back_with_each_hit() -> None:
    embedder = HashEmbedder()
    texts = split_sentences(CHUNK)
    store = InMemoryStore()
    meta = {"source": "r.md", **encode(texts, embedder.embed(texts))}
    store.upsert([StoredChunk("r.md::0", CHUNK, meta)], embedder.embed([CHUNK]))
    (hit,) = store.query(embedder.embed(["refund annual"])[0], 1)
    assert hit.metadata == {"source": "r.md"}
    assert hit.sentences is not None and hit.sentences.texts == tuple(texts)


def test_the_answer_quotes_the_best_usable_sentence_first() -> None:
    embedder = HashEmbedder()
    first = ["How refunds work:", "Annual plans can be refunded within 30 days of purchase."]
    second = ["Monthly plans can be refunded within 7 days of purchase.", "Contact support."]
    hits = [Hit("a", "", 0.9, {"title": "A"}), Hit("b", "", 0.8, {"title": "B"})]
    sets = [SentenceSet(tuple(t), embedder.embed(t)) for t in (first, second)]
    question = "How many days do I have to get a refund on an annual plan?"
    text, used = extract_answer(question, embedder.embed([question])[0], hits, sets)
    assert text.startswith(OFFLINE_NOTICE)
    lines = text.splitlines()[1:]
    assert lines[0] == "- Annual plans can be refunded within 30 days of purchase. [1]"
    assert "How refunds work:" not in text  # a lead-in is never quoted
    assert used[0] == 1


def test_no_usable_sentence_gives_no_answer() -> None:
    hits = [Hit("a", "", 0.9, {})]
    sets = [SentenceSet(("short", "lead in:"), np.ones((2, 384), np.float32))]
    assert extract_answer("q", np.ones(384, np.float32), hits, sets) == ("", [])
