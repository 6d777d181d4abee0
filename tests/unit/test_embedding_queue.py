"""The embedding queue: one thread, concurrent queries batched, every caller its own row."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from switchboard.core.embedding_queue import EmbeddingQueue
from switchboard.core.embeddings import embed_one
from tests.fakes.embedder import HashEmbedder


async def test_concurrent_queries_share_a_batch_and_get_their_own_rows() -> None:
    gate = threading.Event()
    model = HashEmbedder(gate=gate)
    queue = EmbeddingQueue(model, max_batch=8)
    queue.start()
    try:
        first = asyncio.ensure_future(embed_one(queue, "warm up"))  # occupies the thread
        await asyncio.sleep(0.05)
        texts = [f"question number {i}" for i in range(10)]
        pending = [asyncio.ensure_future(embed_one(queue, t)) for t in texts]
        await asyncio.sleep(0.05)
        gate.set()
        await first
        vectors = await asyncio.gather(*pending)
    finally:
        await queue.close()
    for text, vector in zip(texts, vectors, strict=True):
        np.testing.assert_allclose(vector, HashEmbedder().embed([text])[0])
    # the ten queued while the thread was busy went in batches of at most 8
    assert [len(c) for c in model.calls] == [1, 8, 2]
    assert queue.batches == 3 and queue.queries == 11


async def test_a_lone_query_is_embedded_at_once() -> None:
    model = HashEmbedder()
    queue = EmbeddingQueue(model)
    queue.start()
    try:
        await embed_one(queue, "hello there")
        await embed_one(queue, "general kenobi")
    finally:
        await queue.close()
    assert model.calls == [["hello there"], ["general kenobi"]]


async def test_a_failing_model_fails_every_waiter_and_the_queue_goes_on() -> None:
    model = HashEmbedder(fail=True)
    queue = EmbeddingQueue(model)
    queue.start()
    try:
        results = await asyncio.gather(
            *(embed_one(queue, f"t{i}") for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        model.fail = False
        assert (await embed_one(queue, "recovered")).shape == (384,)
    finally:
        await queue.close()


async def test_texts_and_unstarted_queue_run_on_the_embedding_thread() -> None:
    model = HashEmbedder()
    queue = EmbeddingQueue(model)
    try:
        assert (await queue.embed_query("not started")).shape == (384,)
        assert (await queue.embed_texts(["a b", "c d"])).shape == (2, 384)
        assert (await queue.embed_texts([])).shape == (0, 384)
    finally:
        await queue.close()


async def test_close_fails_what_is_still_queued() -> None:
    gate = threading.Event()
    queue = EmbeddingQueue(HashEmbedder(gate=gate))
    queue.start()
    running = asyncio.ensure_future(embed_one(queue, "busy"))
    await asyncio.sleep(0.05)
    waiting = asyncio.ensure_future(embed_one(queue, "queued"))
    await asyncio.sleep(0)
    gate.set()
    await queue.close()
    with pytest.raises((RuntimeError, asyncio.CancelledError)):
        await waiting
    running.cancel()
