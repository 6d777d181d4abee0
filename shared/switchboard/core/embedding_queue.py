"""One embedding executor per process, with micro-batching of concurrent queries.

Embedding one query costs about as much as embedding several at once (the model's fixed cost
per run dominates short texts), and separate runs from many threads only queue up on the
model's lock while their ONNX Runtime thread pools spin against each other. So each service
embeds in ONE dedicated thread: a query waits in a queue, the thread takes everything queued
(up to ``max_batch``, after an optional short ``window_s`` for more to arrive) and embeds it
as one batch. An idle service embeds a lone query at once; a busy one approaches the batched
rate instead of the single-query rate. The event loop never runs the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from switchboard.core.embeddings import Embedder, Matrix, MiniLMEmbedder, Vector
from switchboard.core.settings import EmbeddingSettings

log = logging.getLogger(__name__)


class EmbeddingQueue:
    """An :class:`Embedder` (``embed`` runs the model in the caller's thread, for ingest and
    worker threads) whose :meth:`embed_query` and :meth:`embed_texts` batch on its own thread.

    Create and :meth:`start` it inside the service's event loop; :meth:`close` it on stop.
    """

    def __init__(self, model: Embedder, *, max_batch: int = 32, window_s: float = 0.0) -> None:
        self.model = model
        self._max_batch = max(1, max_batch)
        self._window_s = max(0.0, window_s)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="embed")
        self._queue: list[tuple[str, asyncio.Future[Vector]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # runs of the model from the queue (bench and tests read these)
        self.queries = 0

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def dimension(self) -> int:
        return self.model.dimension

    def embed(self, texts: Sequence[str]) -> Matrix:
        return self.model.embed(texts)

    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="embed-queue")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, future in self._queue:
            if not future.done():
                future.set_exception(RuntimeError("the embedding queue was closed"))
        self._queue.clear()
        self._executor.shutdown(wait=True)

    async def embed_query(self, text: str) -> Vector:
        """``text``'s unit vector, embedded together with whatever else is queued."""
        if self._task is None or self._wake is None:  # not started: embed on our thread
            loop = asyncio.get_running_loop()
            matrix = await loop.run_in_executor(self._executor, self.model.embed, [text])
            vector: Vector = matrix[0]
            return vector
        future: asyncio.Future[Vector] = asyncio.get_running_loop().create_future()
        self._queue.append((text, future))
        self._wake.set()
        return await future

    async def embed_texts(self, texts: Sequence[str]) -> Matrix:
        """Several texts at once, on the embedding thread (one run of the model)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.model.embed, list(texts))

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if self._window_s:
                await asyncio.sleep(self._window_s)
            batch = [(t, f) for t, f in self._queue[: self._max_batch] if not f.done()]
            del self._queue[: self._max_batch]
            if not self._queue:
                self._wake.clear()
            if not batch:
                continue
            try:
                matrix = await loop.run_in_executor(
                    self._executor, self.model.embed, [t for t, _ in batch]
                )
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # the model failed: every waiter learns why
                log.exception("embedding failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.queries += len(batch)
            for row, (_, future) in zip(matrix, batch, strict=True):
                if not future.done():
                    future.set_result(row)


async def start_embedding_queue(
    stack: contextlib.AsyncExitStack, settings: EmbeddingSettings, given: Embedder | None
) -> EmbeddingQueue:
    """The process's one embedding executor, over the given model or MiniLM (loaded off the
    event loop: ~0.3 s, ~90 MB); closed by ``stack`` with the service."""
    model = given
    if model is None:
        threads = settings.intra_op_threads(os.cpu_count())
        model = await asyncio.to_thread(
            lambda: MiniLMEmbedder(threads=threads, spinning=settings.embed_spinning)
        )
    queue = EmbeddingQueue(
        model, max_batch=settings.embed_max_batch, window_s=settings.embed_batch_window_ms / 1000
    )
    queue.start()
    stack.push_async_callback(queue.close)
    return queue
