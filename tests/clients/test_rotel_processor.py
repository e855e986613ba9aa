"""relink inside rotel: OTel Python SDK -> rotel-agent running host-examples/rotel/relink_processor.py
(dist/relink.wasm through PyPI `wasmtime`, in rotel's embedded Python) -> an OTLP/HTTP sink here.

The writer's S3 PutObject client span must get its Datadog-compatible pointer link; the
thumbnailer's invocation span, triggered by the S3 notification of that object, the
pointer link and a direct link to the PutObject span; with adoption on, the thumbnailer's
trace moves under the PutObject span. Array attributes must keep their order (rotel's SDK
reverses arrays it marshals; the processor compensates), and a processor that cannot run
must hand batches on unchanged and say so once on stderr.

Needs `dist/relink.wasm` (./build.sh); fails naming it when it is not built.
"""

import copy
import gzip
import json
import os
import re
import subprocess
import sysconfig
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rotel_support import rotel_agent, start_on_free_ports

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "dist" / "relink.wasm"
PROCESSOR = ROOT / "host-examples" / "rotel" / "relink_processor.py"
S3_EVENT = ROOT / "tests" / "fixtures" / "aws-lambda-rust-runtime" / "example-s3-event.json"

# Bucket, key and ETag of relink's own S3 pointer tests, and their Datadog pointer hash.
BUCKET, KEY, ETAG = "some-bucket", "some-key.data", '"ab12ef34"'
POINTER_HASH = "e721375466d4116ab551213fdea08413"
ZERO_TRACE, ZERO_SPAN = "0" * 32, "0" * 16

RESOURCE_ARRAY = ["python", "writer.py", "--upload"]
SCOPE_ARRAY = ["first", "second", "third"]
HEADER_ARRAY = ["text/plain", "application/json", "*/*"]


class Sink:
    """An OTLP/HTTP traces endpoint keeping every request it is sent, decoded."""

    def __init__(self):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        requests, lock = [], threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with lock:
                    requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.requests, self.lock = requests, lock
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self, names: set[str], timeout: float = 60.0) -> dict:
        """Waits for spans with all these names; returns them by name, with their resource
        and scope: `{name: (resource, scope, span)}`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = {
                    span.name: (rs.resource, ss.scope, span)
                    for request in self.requests
                    for rs in request.resource_spans
                    for ss in rs.scope_spans
                    for span in ss.spans
                }
            if names <= found.keys():
                return found
            time.sleep(0.2)
        raise AssertionError(f"spans {sorted(names)} did not reach the sink within {timeout}s")


@pytest.fixture
def rotel_with_relink(tmp_path):
    """Starts rotel-agent with the relink processor and `RELINK_CONFIG`; yields
    `(port, sink, stderr path)` for the config a test passes."""
    assert COMPONENT.exists(), f"{COMPONENT} is not built (run ./build.sh)"
    procs = []

    def start(config: str):
        sink = Sink()
        paths = sysconfig.get_paths()
        env = {
            **os.environ,
            # rotel embeds the system libpython of this interpreter's minor version; it
            # finds wasmtime and opentelemetry-proto in this interpreter's site-packages.
            "PYTHONPATH": os.pathsep.join(dict.fromkeys([paths["purelib"], paths["platlib"]])),
            "RELINK_WASM": str(COMPONENT),
            "RELINK_CONFIG": config,
        }
        n = len(procs)
        stderr = tmp_path / f"rotel-{n}.err"
        proc, (http, _) = start_on_free_ports(lambda http, grpc: subprocess.Popen(
            [rotel_agent(), "start",
             "--otlp-http-endpoint", f"127.0.0.1:{http}",
             "--otlp-grpc-endpoint", f"127.0.0.1:{grpc}",
             "--otlp-with-trace-processor", PROCESSOR,
             "--exporter", "otlp", "--otlp-exporter-protocol", "http",
             "--otlp-exporter-endpoint", f"http://127.0.0.1:{sink.server.server_port}",
             "--batch-timeout", "100ms",
             "--pid-file", tmp_path / f"rotel-{n}.pid",
             "--log-file", tmp_path / f"rotel-{n}.log"],
            stdout=subprocess.DEVNULL, stderr=open(stderr, "w"), env=env,
        ), 2, "rotel-agent", stderr)
        procs.append((proc, sink))
        return http, sink, stderr

    yield start
    for proc, sink in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        sink.server.shutdown()


def provider(port: int, resource: dict):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # One export per provider (at shutdown), so a trace's spans arrive in one batch.
    tp = TracerProvider(resource=Resource.create(resource))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")))
    return tp


def ids(span) -> tuple[str, str]:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


PUT_ATTRIBUTES = {
    "rpc.system": "aws-api", "rpc.service": "S3", "rpc.method": "PutObject",
    "aws.request_id": "REQ1", "aws.s3.bucket": BUCKET, "aws.s3.key": KEY, "relink.s3.etag": ETAG,
}
WRITER_ATTRIBUTES = {"faas.invocation_id": "inv-writer", "http.request.header.accept": HEADER_ARRAY}


def send_put(port: int) -> dict:
    """The writer: its invocation span and the S3 PutObject client span under it (the
    attributes a botocore response hook adds)."""
    from opentelemetry.trace import SpanKind

    tp = provider(port, {"service.name": "writer", "process.command_args": RESOURCE_ARRAY})
    lambda_tracer = tp.get_tracer("opentelemetry.instrumentation.aws_lambda", attributes={"test.tags": SCOPE_ARRAY})
    with lambda_tracer.start_as_current_span("writer", kind=SpanKind.SERVER, attributes=WRITER_ATTRIBUTES) as root:
        botocore = tp.get_tracer("opentelemetry.instrumentation.botocore")
        with botocore.start_as_current_span("S3.PutObject", kind=SpanKind.CLIENT, attributes=PUT_ATTRIBUTES) as put:
            sent = {"writer": ids(root), "S3.PutObject": ids(put)}
    tp.shutdown()
    return sent


def s3_notification() -> str:
    """The S3 notification fixture, naming the object the writer put."""
    event = json.loads(S3_EVENT.read_text())
    obj = event["Records"][0]["s3"]
    obj["bucket"]["name"] = BUCKET
    obj["object"]["key"] = KEY
    obj["object"]["eTag"] = ETAG.strip('"')
    return json.dumps(event)


INVOCATION_ATTRIBUTES = {"faas.invocation_id": "inv-thumbnailer", "relink.event": s3_notification()}
GET_ATTRIBUTES = {"rpc.system": "aws-api", "rpc.service": "S3", "rpc.method": "GetObject", "aws.request_id": "REQ2"}


def send_notification(port: int) -> dict:
    """The thumbnailer: its invocation span carrying the S3 event, and a GetObject under it."""
    from opentelemetry.trace import SpanKind

    tp = provider(port, {"service.name": "thumbnailer"})
    lambda_tracer = tp.get_tracer("opentelemetry.instrumentation.aws_lambda")
    with lambda_tracer.start_as_current_span("thumbnailer", kind=SpanKind.SERVER, attributes=INVOCATION_ATTRIBUTES) as root:
        botocore = tp.get_tracer("opentelemetry.instrumentation.botocore")
        with botocore.start_as_current_span("S3.GetObject", kind=SpanKind.CLIENT, attributes=GET_ATTRIBUTES) as get:
            sent = {"thumbnailer": ids(root), "S3.GetObject": ids(get)}
    tp.shutdown()
    return sent


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def attributes(item) -> dict:
    return {kv.key: value(kv.value) for kv in item.attributes}


def links(span) -> list:
    return [(link.trace_id.hex(), link.span_id.hex(), attributes(link)) for link in span.links]


def pointer_link(direction: str) -> tuple:
    return (ZERO_TRACE, ZERO_SPAN, {
        "ptr.kind": "aws.s3.object", "ptr.dir": direction, "ptr.hash": POINTER_HASH, "link.kind": "span-pointer",
    })


def direct_link(put: tuple) -> tuple:
    return (*put, {"relink.rule": "aws.s3.object", "relink.match": "exact", "relink.key": POINTER_HASH, "relink.peer": "producer"})


def run_scenario(port: int, sink: Sink):
    """The put, then (once relink has seen it) the notification; the sink's spans."""
    sent = send_put(port)
    sink.spans({"writer", "S3.PutObject"})
    sent |= send_notification(port)
    return sent, sink.spans({"writer", "S3.PutObject", "thumbnailer", "S3.GetObject"})


def without(d: dict, key: str) -> dict:
    d = copy.deepcopy(d)
    d.pop(key)
    return d


def assert_writer_untouched(out: dict, sent: dict) -> None:
    resource, scope, root = out["writer"]
    assert (root.trace_id.hex(), root.span_id.hex(), root.parent_span_id.hex()) == (*sent["writer"], "")
    assert attributes(root) == WRITER_ATTRIBUTES
    assert list(root.links) == []
    assert attributes(resource)["process.command_args"] == RESOURCE_ARRAY
    assert attributes(scope) == {"test.tags": SCOPE_ARRAY}


def test_put_and_its_notification_get_pointer_and_direct_links(rotel_with_relink):
    port, sink, stderr = rotel_with_relink("{}")
    sent, out = run_scenario(port, sink)
    put_trace, put_span = sent["S3.PutObject"]
    consumer_trace, consumer_span = sent["thumbnailer"]

    assert_writer_untouched(out, sent)
    put = out["S3.PutObject"][2]
    assert (put.trace_id.hex(), put.span_id.hex(), put.parent_span_id.hex()) == (put_trace, put_span, sent["writer"][1])
    assert attributes(put) == PUT_ATTRIBUTES | {"relink.rules": ["aws.s3.object"], "relink.pointer.hashes": [POINTER_HASH]}
    assert links(put) == [pointer_link("d")]

    invocation = out["thumbnailer"][2]
    assert (invocation.trace_id.hex(), invocation.span_id.hex(), invocation.parent_span_id.hex()) == (consumer_trace, consumer_span, "")
    assert attributes(invocation) == without(INVOCATION_ATTRIBUTES, "relink.event") | {
        "relink.rules": ["aws.s3.object"], "relink.pointer.hashes": [POINTER_HASH], "relink.matches": ["exact"],
    }
    assert links(invocation) == [pointer_link("u"), direct_link(sent["S3.PutObject"])]

    get = out["S3.GetObject"][2]
    assert (get.trace_id.hex(), get.span_id.hex(), get.parent_span_id.hex()) == (*sent["S3.GetObject"], consumer_span)
    assert attributes(get) == GET_ATTRIBUTES
    assert list(get.links) == []
    assert "relink:" not in stderr.read_text()


def test_adoption_moves_the_consumer_trace_under_the_put(rotel_with_relink):
    port, sink, stderr = rotel_with_relink('{"adoption": {"enabled": true}}')
    sent, out = run_scenario(port, sink)
    put_trace, put_span = sent["S3.PutObject"]
    consumer_trace, consumer_span = sent["thumbnailer"]

    assert_writer_untouched(out, sent)
    assert links(out["S3.PutObject"][2]) == [pointer_link("d")]

    invocation = out["thumbnailer"][2]
    assert (invocation.trace_id.hex(), invocation.span_id.hex(), invocation.parent_span_id.hex()) == (put_trace, consumer_span, put_span)
    # A two-value array relink writes: its order must survive rotel's marshalling.
    assert attributes(invocation) == without(INVOCATION_ATTRIBUTES, "relink.event") | {
        "relink.original_trace_id": consumer_trace,
        "relink.rules": ["adoption", "aws.s3.object"], "relink.pointer.hashes": [POINTER_HASH], "relink.matches": ["exact"],
    }
    assert links(invocation) == [
        (consumer_trace, consumer_span, {"relink.rule": "adoption", "relink.original_trace_id": consumer_trace}),
        pointer_link("u"),
        direct_link(sent["S3.PutObject"]),
    ]

    get = out["S3.GetObject"][2]
    assert (get.trace_id.hex(), get.span_id.hex(), get.parent_span_id.hex()) == (put_trace, sent["S3.GetObject"][1], consumer_span)
    assert attributes(get) == GET_ATTRIBUTES | {"relink.original_trace_id": consumer_trace, "relink.rules": ["adoption"]}
    assert "relink:" not in stderr.read_text()


def assert_passed_through(out: dict, sent: dict) -> None:
    assert_writer_untouched(out, sent)
    for name, sent_attributes in [("S3.PutObject", PUT_ATTRIBUTES), ("thumbnailer", INVOCATION_ATTRIBUTES), ("S3.GetObject", GET_ATTRIBUTES)]:
        span = out[name][2]
        assert (span.trace_id.hex(), span.span_id.hex()) == sent[name]
        assert attributes(span) == sent_attributes
        assert list(span.links) == []


def relink_lines(stderr: Path) -> list[str]:
    return [line for line in stderr.read_text().splitlines() if line.startswith("relink:")]


def test_an_invalid_config_passes_batches_through_and_says_so_once(rotel_with_relink):
    port, sink, stderr = rotel_with_relink('{"adoption": {"enabled": "yes"}}')
    sent, out = run_scenario(port, sink)
    assert_passed_through(out, sent)
    (line,) = relink_lines(stderr)
    assert line == (
        'relink: not loaded (RuntimeError: create: config: config: invalid json: invalid type: string "yes",'
        " expected a boolean at line 1 column 30): batches pass through unchanged (later errors are not printed)"
    )


def test_a_batch_relink_rejects_passes_through_and_the_first_error_is_printed(rotel_with_relink):
    port, sink, stderr = rotel_with_relink('{"limits": {"max_request_bytes": 64}}')
    sent, out = run_scenario(port, sink)
    assert_passed_through(out, sent)
    (line,) = relink_lines(stderr)
    assert re.fullmatch(
        r"relink: batch passed through unchanged: process-traces: too-large: otlp request: \d+ bytes exceeds"
        r" the limit of 64 bytes \(later errors are not printed\)",
        line,
    ), line


def test_an_attribute_without_a_value_is_dropped_instead_of_stopping_rotel(rotel_with_relink):
    """Reading one panics in rotel's SDK and would stop rotel-agent; the processor rewrites
    the attribute list without it and goes on relinking."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    port, sink, stderr = rotel_with_relink("{}")
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "raw-writer"
    rs.resource.attributes.add(key="no.value")
    span = rs.scope_spans.add().spans.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), name="raw PutObject", kind=3)
    for key, text in PUT_ATTRIBUTES.items():
        span.attributes.add(key=key).value.string_value = text
    span.attributes.add(key="no.value")
    nested = span.attributes.add(key="nested").value.kvlist_value.values
    nested.add(key="kept").value.int_value = 7
    nested.add(key="no.value")
    post = urllib.request.Request(f"http://127.0.0.1:{port}/v1/traces", data=request.SerializeToString(),
                                  headers={"Content-Type": "application/x-protobuf"})
    assert urllib.request.urlopen(post, timeout=10).status == 200
    resource, _, raw = sink.spans({"raw PutObject"})["raw PutObject"]
    assert attributes(resource) == {"service.name": "raw-writer"}
    assert attributes(raw) == PUT_ATTRIBUTES | {
        "nested": {"kept": 7}, "relink.rules": ["aws.s3.object"], "relink.pointer.hashes": [POINTER_HASH],
    }
    assert links(raw) == [pointer_link("d")]
    # rotel-agent still runs and relinks.
    send_put(port)
    assert links(sink.spans({"writer", "S3.PutObject"})["S3.PutObject"][2]) == [pointer_link("d")]
    assert relink_lines(stderr) == [
        "relink: an attribute without a value: rotel's SDK cannot carry one, it is dropped (later errors are not printed)"
    ]
