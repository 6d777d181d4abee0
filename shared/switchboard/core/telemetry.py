"""OpenTelemetry set-up, configured only by the standard ``OTEL_*`` variables.

With no OTLP endpoint set nothing is exported (spans still get real trace ids, which every
response reports). gRPC client and server instrumentation propagate W3C trace context on
every hop; it must be installed before any server or channel is created.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

log = logging.getLogger(__name__)

_installed: TelemetryHandle | None = None


@dataclass
class TelemetryHandle:
    provider: TracerProvider | None
    exporting: bool

    def shutdown(self) -> None:
        """Flushes buffered spans; called on SIGTERM/SIGINT."""
        if self.provider is not None:
            self.provider.force_flush(timeout_millis=5000)
            self.provider.shutdown()


def _endpoint() -> str | None:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )


def _exporter() -> SpanExporter:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    )
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    endpoint = _endpoint() or ""
    return OTLPSpanExporter(insecure=not endpoint.startswith("https://"))


def setup_telemetry(default_service_name: str) -> TelemetryHandle:
    """Installs the tracer provider and gRPC instrumentation once per process."""
    global _installed  # noqa: PLW0603 - instrumentation is process-wide by nature
    if _installed is not None:
        return _installed
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        _installed = TelemetryHandle(provider=None, exporting=False)
        return _installed
    resource = Resource.create({"service.name": default_service_name}).merge(
        OTELResourceDetector().detect()
    )
    if "OTEL_SERVICE_NAME" in os.environ:
        resource = resource.merge(Resource({"service.name": os.environ["OTEL_SERVICE_NAME"]}))
    provider = TracerProvider(resource=resource)
    exporting = _endpoint() is not None
    if exporting:
        provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.grpc import (
        GrpcAioInstrumentorClient,
        GrpcAioInstrumentorServer,
    )

    GrpcAioInstrumentorServer().instrument()
    GrpcAioInstrumentorClient().instrument()
    log.debug("telemetry ready", extra={"exporting": exporting})
    _installed = TelemetryHandle(provider=provider, exporting=exporting)
    return _installed


def current_trace_id() -> str:
    """This request's W3C trace id (32 lowercase hex digits), or "" outside a span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.trace_id else ""
