"""A real OTLP/gRPC trace receiver: what a collector would see, flattened.

The demo uses it to print each request's trace as a waterfall; the tests use it to check
what every process exported.

Exporters send to it exactly as they would to a collector::

    with OtlpReceiver() as receiver:          # or: receiver.start() ... receiver.stop()
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        ...                                   # run something that exports spans
        span = receiver.wait_for(lambda s: s.name == "/switchboard.v1.Supervisor/Ask")
        assert span.service_name == "switchboard-supervisor"

The gRPC server is synchronous and runs on its own threads, so sync and async tests (and
child processes, and containers when bound to ``0.0.0.0``) can all export to it.

What it receives is decoded by :mod:`~switchboard.devtools.otlp_decode`.

Standalone: ``python -m switchboard.devtools.otlp_receiver --port 4317`` prints spans as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import asdict
from types import TracebackType
from typing import Self

import grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from switchboard.devtools.otlp_decode import ReceivedPoint, ReceivedSpan, flatten, flatten_metrics


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(
        self, sink: Callable[[metrics_service_pb2.ExportMetricsServiceRequest], None]
    ) -> None:
        self._sink = sink

    def Export(  # noqa: N802 - the gRPC method name
        self,
        request: metrics_service_pb2.ExportMetricsServiceRequest,
        context: grpc.ServicerContext,
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        self._sink(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, sink: Callable[[trace_service_pb2.ExportTraceServiceRequest], None]):
        self._sink = sink

    def Export(  # noqa: N802 - the gRPC method name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._sink(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    """An OTLP/gRPC ``TraceService`` on ``host``: port 0 picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: grpc.Server | None = None
        self._spans: list[ReceivedSpan] = []
        self._points: list[ReceivedPoint] = []
        self._requests = 0
        self._changed = threading.Condition()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> int:
        """Starts serving and returns the bound port."""
        if self._server is not None:
            raise RuntimeError("receiver already started")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp"))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _TraceService(self._record), server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _MetricsService(self._record_metrics), server
        )
        port = server.add_insecure_port(f"{self.host}:{self._requested_port}")
        if port == 0:
            raise OSError(f"could not bind {self.host}:{self._requested_port}")
        server.start()
        self._server, self._port = server, port
        return port

    def stop(self, grace: float | None = 0.5) -> None:
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("receiver not started")
        return self._port

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT`` for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (0.0.0.0 becomes 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "[::]") else self.host
        return f"http://{host}:{self.port}"

    # -- what was received -----------------------------------------------------------------

    def _record(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        spans = flatten(request)
        with self._changed:
            self._spans.extend(spans)
            self._requests += 1
            self._changed.notify_all()

    def _record_metrics(self, request: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        points = flatten_metrics(request)
        with self._changed:
            self._points.extend(points)
            self._changed.notify_all()

    @property
    def metric_points(self) -> list[ReceivedPoint]:
        """Every metric data point received so far (cumulative exports repeat points)."""
        with self._changed:
            return list(self._points)

    @property
    def spans(self) -> list[ReceivedSpan]:
        """A snapshot of every span received so far, in arrival order."""
        with self._changed:
            return list(self._spans)

    @property
    def export_requests(self) -> int:
        with self._changed:
            return self._requests

    def clear(self) -> None:
        with self._changed:
            self._spans.clear()

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """The spans of one trace (by 32-hex-digit id)."""
        return [s for s in self.spans if s.trace_id == trace_id.lower()]

    def wait_for(
        self, predicate: Callable[[ReceivedSpan], bool], timeout: float = 10.0
    ) -> ReceivedSpan:
        """The first received span matching ``predicate``; TimeoutError after ``timeout``."""
        found = self.wait_for_all(predicate, count=1, timeout=timeout)
        return found[0]

    def wait_for_all(
        self, predicate: Callable[[ReceivedSpan], bool], *, count: int, timeout: float = 10.0
    ) -> list[ReceivedSpan]:
        """At least ``count`` received spans matching ``predicate`` (all of those seen)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [s for s in self._spans if predicate(s)]
                if len(matching) >= count:
                    return matching
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted({f"{s.service_name}:{s.name}" for s in self._spans})
                    raise TimeoutError(
                        f"{len(matching)}/{count} matching spans after {timeout}s; "
                        f"received {len(self._spans)} spans: {names}"
                    )
                self._changed.wait(left)

    def __iter__(self) -> Iterator[ReceivedSpan]:
        return iter(self.spans)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print received OTLP spans as JSON lines.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4317)
    args = parser.parse_args(argv)
    receiver = OtlpReceiver(args.host, args.port)
    port = receiver.start()
    print(f"listening on {args.host}:{port}", flush=True)
    seen = 0
    try:
        while True:
            spans = receiver.spans
            for span in spans[seen:]:
                print(json.dumps(asdict(span), default=repr), flush=True)
            seen = len(spans)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
