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

Standalone: ``python -m switchboard.devtools.otlp_receiver --port 4317`` prints spans as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any, Self

import grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

AttributeValue = str | bool | int | float | bytes | list[Any] | dict[str, Any] | None

# opentelemetry.proto.trace.v1.Span.SpanKind / Status.StatusCode, by number.
SPAN_KINDS = {
    0: "UNSPECIFIED",
    1: "INTERNAL",
    2: "SERVER",
    3: "CLIENT",
    4: "PRODUCER",
    5: "CONSUMER",
}
STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, with its resource's ``service.name``."""

    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    parent_span_id: str  # 16 hex digits, or "" for a root span
    name: str
    kind: str  # "SERVER", "CLIENT", "INTERNAL", ...
    service_name: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    status_code: str = "UNSET"  # "UNSET", "OK" or "ERROR"
    status_message: str = ""
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    resource_attributes: dict[str, AttributeValue] = field(default_factory=dict)
    scope_name: str = ""
    events: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return max(0, self.end_time_unix_nano - self.start_time_unix_nano) / 1e9

    @property
    def is_root(self) -> bool:
        return not self.parent_span_id


def any_value(value: AnyValue) -> AttributeValue:
    """Converts an OTLP ``AnyValue`` into the matching Python value."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    result: AttributeValue = getattr(value, which)
    return result


def attributes_dict(pairs: Iterable[KeyValue]) -> dict[str, AttributeValue]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def flatten(request: trace_service_pb2.ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """Every span of an export request, each with its resource and scope."""
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = attributes_dict(resource_spans.resource.attributes)
        service = resource.get("service.name")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=SPAN_KINDS.get(span.kind, str(span.kind)),
                        service_name=service if isinstance(service, str) else "",
                        attributes=attributes_dict(span.attributes),
                        status_code=STATUS_CODES.get(span.status.code, str(span.status.code)),
                        status_message=span.status.message,
                        start_time_unix_nano=span.start_time_unix_nano,
                        end_time_unix_nano=span.end_time_unix_nano,
                        resource_attributes=resource,
                        scope_name=scope_spans.scope.name,
                        events=tuple(e.name for e in span.events),
                    )
                )
    return spans


@dataclass(frozen=True)
class ReceivedPoint:
    """One metric data point: sums and gauges carry ``value``, histograms ``count``/``sum``."""

    name: str
    service_name: str
    attributes: dict[str, AttributeValue]
    value: float = 0.0
    count: int = 0
    sum: float = 0.0
    bounds: tuple[float, ...] = ()


def flatten_metrics(
    request: metrics_service_pb2.ExportMetricsServiceRequest,
) -> list[ReceivedPoint]:
    points: list[ReceivedPoint] = []
    for resource_metrics in request.resource_metrics:
        resource = attributes_dict(resource_metrics.resource.attributes)
        service = str(resource.get("service.name", ""))
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind == "histogram":
                    points.extend(
                        ReceivedPoint(
                            metric.name,
                            service,
                            attributes_dict(p.attributes),
                            count=p.count,
                            sum=p.sum,
                            bounds=tuple(p.explicit_bounds),
                        )
                        for p in metric.histogram.data_points
                    )
                elif kind in ("sum", "gauge"):
                    data = getattr(metric, kind)
                    points.extend(
                        ReceivedPoint(
                            metric.name,
                            service,
                            attributes_dict(p.attributes),
                            value=p.as_double or float(p.as_int),
                        )
                        for p in data.data_points
                    )
    return points


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
