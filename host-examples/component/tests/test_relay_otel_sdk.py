"""A real client through the relay: the OpenTelemetry Python SDK exports spans over
OTLP/HTTP (opentelemetry-exporter-otlp-proto-http) to `relink serve`, which relinks them in
dist/relink.wasm and forwards them to a loopback upstream; the official
`opentelemetry-proto` package decodes what arrives.

The spans are those of the S3 golden scenario (tests/golden/relink/s3-put-then-notify):
function A's S3 PutObject client span with the ETag the relink hooks record, then function
B's invocation span carrying the S3 notification in `relink.event`. Exported one request
per span, in that order, so only an index that persists across requests can join them.
The relay acknowledges a batch once it is queued and forwards it from its sending queue
(one sender here, so in order), so the test waits, bounded, for what reaches the upstream.
"""

import hashlib
import http.server
import json
import os
import pathlib
import subprocess
import threading
import time

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

ROOT = pathlib.Path(__file__).resolve().parents[3]
WASM = ROOT / "dist" / "relink.wasm"
EVENT = ROOT / "tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json"


def relay_command():
    """`RELINK_RELAY` (a binary taking `serve ...`), else the built CLI or relay binary."""
    for candidate in [os.environ.get("RELINK_RELAY"), ROOT / "dist/relink", ROOT / "target/release/relink-relay"]:
        if candidate and pathlib.Path(candidate).exists():
            return [str(candidate)]
    pytest.fail("no relay binary: run ./build.sh or cargo build --release -p relink-relay")


class Upstream(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        Upstream.received.append((self.path, self.headers.get("content-type"), body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def relay(tmp_path):
    if not WASM.exists():
        pytest.fail(f"{WASM} is missing: run host-examples/component/build.sh")
    Upstream.received = []
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        relay_command() + ["serve", "--listen", "127.0.0.1:0", "--component", str(WASM), "--log-interval", "0",
                           "--senders", "1", "--upstream", f"http://127.0.0.1:{upstream.server_port}", "--out", str(out)],
        stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()
    assert "listening on http://" in first, first
    address = first.split("http://")[1].split("/")[0]
    yield address, out
    process.terminate()
    assert process.wait(timeout=30) == 0, process.stderr.read()
    upstream.shutdown()


def provider(address, service):
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service, "cloud.provider": "aws"}))
    exporter = OTLPSpanExporter(endpoint=f"http://{address}/v1/traces")
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


def attributes(span):
    return {kv.key: kv.value for kv in span.attributes}


def spans(request):
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_sdk_spans_are_relinked_across_requests(relay):
    address, out = relay
    event = json.loads(EVENT.read_text())
    record = event["Records"][0]["s3"]
    etag = record["object"]["eTag"]

    uploader = provider(address, "uploader")
    with uploader.get_tracer("opentelemetry.instrumentation.botocore").start_as_current_span(
            "S3.PutObject", kind=SpanKind.CLIENT, attributes={
                "rpc.system": "aws-api", "rpc.service": "S3", "rpc.method": "PutObject",
                "aws.s3.bucket": record["bucket"]["name"], "aws.s3.key": "Happy Face.jpg",
                "relink.s3.etag": f'"{etag}"'}) as put:
        producer = put.get_span_context()
    uploader.shutdown()

    thumbnailer = provider(address, "thumbnailer")
    with thumbnailer.get_tracer("opentelemetry.instrumentation.aws_lambda").start_as_current_span(
            "thumbnailer", kind=SpanKind.SERVER, attributes={"relink.event": json.dumps(event)}) as invocation:
        consumer = invocation.get_span_context()
    thumbnailer.shutdown()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
            len(Upstream.received) < 2 or len(out.read_text().splitlines()) < 2):
        time.sleep(0.05)

    assert [(path, content_type) for path, content_type, _ in Upstream.received] == [
        ("/v1/traces", "application/x-protobuf")] * 2
    first, second = (ExportTraceServiceRequest.FromString(body) for _, _, body in Upstream.received)

    [put_span] = spans(first)
    assert put_span.span_id == producer.span_id.to_bytes(8, "big")
    [pointer] = put_span.links
    assert attributes(pointer)["ptr.dir"].string_value == "d"
    assert attributes(pointer)["link.kind"].string_value == "span-pointer"
    assert attributes(put_span)["relink.rules"].array_value.values[0].string_value == "aws.s3.object"

    [lambda_span] = spans(second)
    assert lambda_span.span_id == consumer.span_id.to_bytes(8, "big")
    assert "relink.event" not in attributes(lambda_span)
    direct = [link for link in lambda_span.links if link.span_id == put_span.span_id]
    assert len(direct) == 1
    assert direct[0].trace_id == producer.trace_id.to_bytes(16, "big")
    link_attributes = {k: v.string_value for k, v in attributes(direct[0]).items()}
    assert link_attributes["relink.rule"] == "aws.s3.object"
    assert link_attributes["relink.match"] == "exact"
    assert link_attributes["relink.peer"] == "producer"
    pointers = [link for link in lambda_span.links if attributes(link).get("ptr.dir")]
    # The decoded key's pointer (the producer's), then the key as the notification wrote it
    # (`Happy%20Face.jpg`), which Datadog's Lambda consumers hash.
    assert [attributes(p)["ptr.dir"].string_value for p in pointers] == ["u", "u"]
    assert attributes(pointers[0])["ptr.hash"] == attributes(pointer)["ptr.hash"]
    raw_key = record["object"]["key"]
    assert raw_key == "Happy%20Face.jpg"
    as_written = hashlib.sha256(f"{record['bucket']['name']}|{raw_key}|{etag}".encode()).hexdigest()[:32]
    assert attributes(pointers[1])["ptr.hash"].string_value == as_written

    lines = out.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] == lambda_span.span_id.hex()
