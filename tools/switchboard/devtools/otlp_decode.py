"""OTLP export requests decoded into flat records: one per span, one per metric data point.

What a collector would see, without the nesting by resource and scope: each record carries
its resource's ``service.name``. The receiver (:mod:`~switchboard.devtools.otlp_receiver`)
decodes every request it is sent with these; tests and the waterfall read the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
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
