"""AskStream and ResumeStream: the same pipeline as Ask, its steps reported as they happen.

A streamed request runs ``SupervisorService.ask`` itself, with an :class:`AskEvents` sink
(so screening, routing, the ledger, the review inbox, audit and metrics are Ask's own), as
a run the :class:`StreamHub` owns; the caller's call listens to the run. The final event is
the ``AskResult`` ``ask`` returned. A repeated caller-chosen request id attaches to its run
while it is running here (its events from the start); otherwise the ledger decides, as for
Ask: the stored final answer is replayed, a run elsewhere is ABORTED, a different request
under the same id is ALREADY_EXISTS. A budget spent mid-stream ends the stream with a
``Partial`` event, then RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from switchboard.core import errors
from switchboard.core.context import RequestContext
from switchboard.supervisor.ledger import fingerprint
from switchboard.supervisor.results import AskInput
from switchboard.supervisor.review.callers import CallerResults
from switchboard.supervisor.service import SupervisorService
from switchboard.supervisor.streaming.events import AskEvents, Finished, Numbered
from switchboard.supervisor.streaming.runs import StreamHub, StreamRun


class StreamingAsk:
    def __init__(
        self,
        service: SupervisorService,
        hub: StreamHub,
        results: CallerResults | None = None,
    ) -> None:
        self._service = service
        self._hub = hub
        self._results = results

    def open(self, ctx: RequestContext, ask: AskInput) -> StreamRun:
        """The run the caller listens to: a new one, or the one running under its id."""
        key = (ctx.tenant, ctx.request_id) if ask.idempotent else None
        same = _fingerprint(ctx, ask)
        if key is not None:
            running = self._hub.get(key)
            if running is not None and not running.done and running.fingerprint == same:
                return running

        async def produce(run: StreamRun) -> None:
            events = AskEvents(run.deliver)
            try:
                result = await self._service.ask(ctx, ask, events)
            except errors.ResourceExhausted as exc:
                await events.partial(exc.message)
                raise
            await events.finish(result)

        return self._hub.start(key, same, produce)

    async def resume(
        self, ctx: RequestContext, request_id: str, after: int
    ) -> AsyncGenerator[Numbered, None]:
        """The run's events after ``after``; for a run no longer held, its final answer alone
        (sequence 0), or NOT_FOUND."""
        run = self._hub.get((ctx.tenant, request_id)) if request_id else None
        if run is not None:
            async for event in run.listen(after):
                yield event
            if run.error is not None:
                raise run.error
            return
        if self._results is None:
            raise errors.NotFound(f"no stream of request {request_id!r} is held here")
        yield Numbered(0, Finished(await self._results.result(ctx, request_id)))


def _fingerprint(ctx: RequestContext, ask: AskInput) -> str:
    return fingerprint(
        text=ask.text,
        session_id=ctx.session_id,
        agent=ask.agent,
        confirm_action=ask.confirm_action,
        metadata=ask.metadata,
    )
