"""Spans made by the real OTel Python SDK for the relay's client tests: one S3 PutObject
client span with the attributes a botocore response hook adds, whose relinked copy must
carry relink's S3 span-pointer link."""

# Bucket, key and ETag of relink's own S3 pointer tests, and their Datadog pointer hash.
BUCKET, KEY, ETAG = "some-bucket", "some-key.data", '"ab12ef34"'
POINTER_HASH = "e721375466d4116ab551213fdea08413"


def s3_put_spans() -> tuple[list, str]:
    """The finished S3 PutObject span (in a list, as exporters take them) and its trace id."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "writer"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.botocore")
    with tracer.start_as_current_span("S3.PutObject", kind=SpanKind.CLIENT) as span:
        span.set_attributes({
            "rpc.system": "aws-api", "rpc.service": "S3", "rpc.method": "PutObject",
            "aws.request_id": "REQ1", "aws.s3.bucket": BUCKET, "aws.s3.key": KEY,
            "relink.s3.etag": ETAG,
        })
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return memory.get_finished_spans(), trace_id


def send_s3_put(port: int) -> str:
    """Exports the S3 PutObject span with the SDK's OTLP/HTTP exporter to
    `http://127.0.0.1:port/v1/traces` (the relay, or a collector in front of it); returns
    its trace id."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    spans, trace_id = s3_put_spans()
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
    assert exporter.export(spans).name == "SUCCESS"
    exporter.shutdown()
    return trace_id
