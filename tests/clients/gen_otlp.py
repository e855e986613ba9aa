"""Generates tests/otlp/python_sdk.pb and tests/otlp/python_sdk.json with the real
OpenTelemetry Python SDK (versions pinned in requirements.txt).

The spans go through the SDK's own API (TracerProvider, start_span, set_attribute,
add_event, links, set_status, end) and the OTLP exporter's own encoder
(`opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans`), so the
protobuf is byte for byte what an application using this SDK sends. Ids and timestamps
are fixed so that the output is reproducible.

python_sdk.json is the OTLP/JSON a conforming encoder must produce for the same request.
It is made with protobuf's own proto3 JSON mapping (`MessageToDict`), then converted to
OTLP's deviations from that mapping (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
  - traceId / spanId / parentSpanId (spans and links): base64 -> lowercase hex;
  - span kind and status code: enum names -> integers.
Everything else is already what OTLP/JSON wants: lowerCamelCase keys, 64-bit integers
as decimal strings, flags and counts as numbers, bytes as base64, NaN/Infinity as
strings, default values omitted.

Known SDK behaviour visible in the output (1.45.2): link trace_state is not encoded,
and span flags carry only the "has is-remote" / "is-remote" bits, not the sampled bit.

Run from the repository root:
    pip install -r tests/clients/requirements.txt
    python tests/clients/gen_otlp.py
"""

import base64
import json
import logging
import pathlib

from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceFlags, TraceState

OUT = pathlib.Path(__file__).resolve().parent.parent / "otlp"

T0 = 1_714_557_600_000_000_000  # 2024-05-01T10:00:00Z in unix nanoseconds
MS = 1_000_000


class FixedIds(IdGenerator):
    """Hands out ids from fixed lists, in order, so the output is reproducible."""

    def __init__(self, trace_ids, span_ids):
        self.trace_ids = list(trace_ids)
        self.span_ids = list(span_ids)

    def generate_trace_id(self):
        return self.trace_ids.pop(0)

    def generate_span_id(self):
        return self.span_ids.pop(0)


def api_spans(exporter):
    """A Lambda behind API Gateway: server span, S3 PutObject client span, encoder span."""
    provider = TracerProvider(
        resource=Resource(
            {
                "service.name": "orders-api",
                "service.version": "1.4.2",
                "cloud.provider": "aws",
                "cloud.region": "eu-west-1",
                "faas.name": "orders-api-handler",
                "telemetry.sdk.language": "python",
            },
            schema_url="https://opentelemetry.io/schemas/1.26.0",
        ),
        id_generator=FixedIds([], [0x00F067AA0BA902B7, 0x53995C3F42CD8AD8, 0x1111111111111111]),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    web = provider.get_tracer("opentelemetry.instrumentation.aws_lambda", "0.66b2",
                              schema_url="https://opentelemetry.io/schemas/1.11.0")
    boto = provider.get_tracer("opentelemetry.instrumentation.botocore", "0.66b2",
                               attributes={"instrumentation.kind": "sdk"})

    remote_parent = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0xFEDCBA9876543210,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]),
    )
    ctx = trace.set_span_in_context(NonRecordingSpan(remote_parent))
    server = web.start_span("GET /orders/{id}", context=ctx, kind=SpanKind.SERVER, start_time=T0)
    server.set_attributes({
        "http.request.method": "GET",
        "url.scheme": "https",
        "url.path": "/orders/42",
        "http.route": "/orders/{id}",
        "server.address": "api.example.com",
        "server.port": 443,
        "client.address": "203.0.113.7",
        "user_agent.original": "curl/8.5.0",
        "faas.trigger": "http",
        "faas.coldstart": True,
    })
    server.add_event("request.validated", {"order.id": 42}, timestamp=T0 + 2 * MS)

    client_ctx = trace.set_span_in_context(server)
    put = boto.start_span("S3.PutObject", context=client_ctx, kind=SpanKind.CLIENT, start_time=T0 + 5 * MS)
    put.set_attributes({
        "rpc.system": "aws-api",
        "rpc.service": "S3",
        "rpc.method": "PutObject",
        "aws.request_id": "7Q3PW0PW8Z9B2C4D",
        "aws.s3.bucket": "orders-archive",
        "aws.s3.key": "2024/05/01/order 42.json",
        "server.address": "orders-archive.s3.eu-west-1.amazonaws.com",
        "http.response.status_code": 403,
        "retry_attempts": 0,
    })
    put.add_event("exception", {
        "exception.type": "botocore.exceptions.ClientError",
        "exception.message": "An error occurred (AccessDenied) when calling the PutObject operation: Access Denied",
        "exception.escaped": False,
    }, timestamp=T0 + 41 * MS)
    put.set_status(Status(StatusCode.ERROR, "AccessDenied: Access Denied"))
    put.end(end_time=T0 + 41 * MS)

    values = web.start_span("encode order", context=client_ctx, kind=SpanKind.INTERNAL, start_time=T0 + 42 * MS)
    values.set_attributes({
        "app.string.unicode": "héllo wörld ✓ 日本語 🚀 \"quoted\" \\ \n\t",
        "app.string.empty": "",
        "app.bool.false": False,
        "app.int.zero": 0,
        "app.int.negative": -42,
        "app.int.min": -9223372036854775808,
        "app.int.max": 9223372036854775807,
        "app.double": 3.141592653589793,
        "app.double.whole": 2.0,
        "app.double.negative.tiny": -2.5e-10,
        "app.double.huge": 1.7976931348623157e308,
        "app.double.nan": float("nan"),
        "app.double.inf": float("inf"),
        "app.double.neg_inf": float("-inf"),
        "app.bytes": b"\x00\x01\xfe\xffrelink",
        "app.array.strings": ["s3", "dynamodb", "sqs"],
        "app.array.ints": [1, -2, 3000000000],
        "app.array.doubles": [0.5, -1.25],
        "app.array.bools": [True, False],
        "app.array.empty": [],
        "app.kvlist": {
            "region": "eu-west-1",
            "retries": 3,
            "nested": {"ok": True, "ratio": 0.25, "tags": ["a", "b"]},
        },
    })
    values.set_status(Status(StatusCode.OK))
    values.end(end_time=T0 + 43 * MS)

    server.set_attribute("http.response.status_code", 502)
    server.set_status(Status(StatusCode.ERROR, "upstream S3 write failed"))
    server.end(end_time=T0 + 45 * MS)


def consumer_spans(exporter):
    """An SQS batch consumer linking to its producers; span limits force dropped counts."""
    provider = TracerProvider(
        resource=Resource({"service.name": "orders-worker", "cloud.provider": "aws"}),
        id_generator=FixedIds([0x0AF7651916CD43DD8448EB211C80319C], [0xB7AD6B7169203331]),
        span_limits=SpanLimits(max_links=2, max_span_attributes=4, max_event_attributes=1),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.aws_lambda", "0.66b2")

    # max_links=2 keeps the newest two links: the first one here is dropped.
    links = [
        Link(SpanContext(0x11111111111111111111111111111111, 0x2222222222222222, is_remote=True), {}),
        Link(SpanContext(0x5B8EFFF798038103D269B633813FC60C, 0xEEE19B7EC3C1B174, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED),
                         trace_state=TraceState([("vendor", "value")])),
             {"messaging.message.id": "059f36b4-87a3-44ab-83d2-661975830a7d"}),
        Link(SpanContext(0x0000000000000000000000000000ABCD, 0x0000000000000001, is_remote=False),
             {"messaging.message.id": "2e1424d4-f796-459a-8184-9c92662be6da", "relink.extra": "x"}),
    ]
    span = tracer.start_span("orders process", kind=SpanKind.CONSUMER, links=links, start_time=T0 + 100 * MS)
    span.set_attributes({
        "messaging.system": "aws_sqs",
        "messaging.operation.type": "process",
        "messaging.destination.name": "orders-queue",
        "messaging.batch.message_count": 2,
        "cloud.resource_id": "arn:aws:sqs:eu-west-1:123456789012:orders-queue",
        "faas.trigger": "pubsub",
    })
    span.add_event("batch.item.failed", {"messaging.message.id": "2e1424d4", "reason": "timeout"},
                   timestamp=T0 + 150 * MS)
    span.end(end_time=T0 + 180 * MS)


def hex_ids(obj, keys=("traceId", "spanId", "parentSpanId")):
    for key in keys:
        if key in obj:
            obj[key] = base64.b64decode(obj[key]).hex()


def to_otlp_json(request):
    """proto3 JSON (MessageToDict) -> OTLP/JSON: hex ids, integer enums."""
    doc = MessageToDict(request)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                hex_ids(span)
                if "kind" in span:
                    span["kind"] = PbSpan.SpanKind.Value(span["kind"])
                if "code" in span.get("status", {}):
                    span["status"]["code"] = PbStatus.StatusCode.Value(span["status"]["code"])
                for link in span.get("links", []):
                    hex_ids(link)
    return doc


def main():
    # The span limits make the SDK warn about each dropped attribute; that is expected.
    logging.disable(logging.WARNING)
    exporter = InMemorySpanExporter()
    api_spans(exporter)
    consumer_spans(exporter)
    request = encode_spans(exporter.get_finished_spans())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "python_sdk.pb").write_bytes(request.SerializeToString())
    text = json.dumps(to_otlp_json(request), indent=2, ensure_ascii=False)
    (OUT / "python_sdk.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
