"""The relay's receivers with real clients: the OTel Python SDK's OTLP gRPC exporter
(opentelemetry-exporter-otlp-proto-grpc, grpcio) and its OTLP/HTTP exporter send to
`relink serve`, plain, gzip-compressed, over TLS and over mTLS (with and without a client
certificate); rotel (a Rust collector from PyPI) receives the SDK's spans and exports them
over OTLP/gRPC to the relay's gRPC port, plain and with mTLS. The relinked spans must reach
the relay's output (`--out`) with the S3 span-pointer link relink adds, so every path went
through the same pipeline. Certificates are made at test time (`cryptography`); all on
127.0.0.1, every wait bounded.

Needs `target/release/relink` and `dist/relink.wasm` (./build.sh); fails naming them.
"""

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from rotel_support import rotel_agent, start_on_free_ports
from sdk_spans import POINTER_HASH, s3_put_spans
from tls_support import make_pki

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "dist" / "relink.wasm"


# --- certificates -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


# --- the relay ----------------------------------------------------------------------------

class Relay:
    """`relink serve` on ephemeral ports, its stderr read for the addresses."""

    def __init__(self, relink_bin, tmp_path, *extra):
        assert COMPONENT.exists(), f"{COMPONENT} is not built (run ./build.sh)"
        self.out = tmp_path / "relinked.jsonl"
        self.proc = subprocess.Popen(
            [relink_bin, "serve", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0",
             "--component", COMPONENT, "--out", self.out, "--log-interval", "0", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.lines = []
        self.http = self.grpc = None
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                if m := re.search(r"listening on https?://([\d.]+:\d+)/", line):
                    self.http = m.group(1)
                if m := re.search(r"OTLP/gRPC on ([\d.]+:\d+)", line):
                    self.grpc = m.group(1)
                if self.http and self.grpc:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(30)
        assert self.http and self.grpc, f"relink serve did not start: {''.join(self.lines)}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def spans(self, want: int, timeout: float = 20.0) -> list[dict]:
        """The spans of the `--out` file once `want` arrived (bounded wait)."""
        deadline = time.monotonic() + timeout
        spans = []
        while time.monotonic() < deadline:
            if self.out.exists():
                spans = [
                    span
                    for line in self.out.read_text().splitlines() if line.strip()
                    for rs in json.loads(line).get("resourceSpans", [])
                    for ss in rs.get("scopeSpans", [])
                    for span in ss.get("spans", [])
                ]
                if len(spans) >= want:
                    return spans
            time.sleep(0.1)
        raise AssertionError(f"{len(spans)} of {want} spans reached {self.out} in {timeout}s; "
                             f"relay said: {''.join(self.lines)}")


@pytest.fixture
def relay(relink_bin, tmp_path):
    started = []

    def start(*extra):
        out = tmp_path / f"relay{len(started)}"
        out.mkdir()
        r = Relay(relink_bin, out, *extra)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def tls_flags(pki, mutual=False):
    flags = ["--tls-cert", pki / "server.pem", "--tls-key", pki / "server.key"]
    return flags + (["--tls-client-ca", pki / "ca.pem"] if mutual else [])


# --- the clients --------------------------------------------------------------------------

def export_s3_put(exporter) -> tuple[object, str]:
    """Exports one S3 PutObject client span (with the facts a botocore hook adds) through
    `exporter` directly, and returns the exporter's result and the trace id."""
    spans, trace_id = s3_put_spans()
    result = exporter.export(spans)
    exporter.shutdown()
    return result, trace_id


def grpc_exporter(relay, pki=None, identity=False, gzip=False):
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    credentials = None
    if pki is not None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(pki / "ca.pem").read_bytes(),
            private_key=(pki / "client.key").read_bytes() if identity else None,
            certificate_chain=(pki / "client.pem").read_bytes() if identity else None,
        )
    return OTLPSpanExporter(
        endpoint=relay.grpc, insecure=pki is None, credentials=credentials, timeout=4,
        compression=grpc.Compression.Gzip if gzip else None,
    )


def http_exporter(relay, pki=None, identity=False, gzip=False):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    scheme = "https" if pki is not None else "http"
    return OTLPSpanExporter(
        endpoint=f"{scheme}://{relay.http}/v1/traces", timeout=4,
        certificate_file=str(pki / "ca.pem") if pki is not None else None,
        client_certificate_file=str(pki / "client.pem") if identity else None,
        client_key_file=str(pki / "client.key") if identity else None,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
    )


def assert_relinked(spans: list[dict], trace_id: str) -> None:
    """The S3 span came through relink: its span-pointer link is there."""
    span = next(s for s in spans if s["traceId"] == trace_id)
    hashes = [a["key"] for link in span.get("links", []) for a in link.get("attributes", [])
              if a["key"] == "ptr.hash" and a["value"].get("stringValue") == POINTER_HASH]
    assert hashes, f"no span-pointer link on {span}"


# --- tests --------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [grpc_exporter, http_exporter], ids=["grpc", "http"])
def test_sdk_exporters_plain_and_gzip(relay, make):
    from opentelemetry.sdk.trace.export import SpanExportResult

    r = relay()
    traces = []
    for gzip in (False, True):
        result, trace_id = export_s3_put(make(r, gzip=gzip))
        assert result == SpanExportResult.SUCCESS
        traces.append(trace_id)
    spans = r.spans(2)
    for trace_id in traces:
        assert_relinked(spans, trace_id)


def test_the_http_exporter_with_deflate(relay):
    # The SDK's `compression=deflate` sends zlib data, which the Collector reads; so must
    # the relay (a 415 is not retried: the batch would be lost).
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    r = relay()
    exporter = OTLPSpanExporter(endpoint=f"http://{r.http}/v1/traces", timeout=4,
                                compression=Compression.Deflate)
    result, trace_id = export_s3_put(exporter)
    assert result == SpanExportResult.SUCCESS
    assert_relinked(r.spans(1), trace_id)


def test_every_coding_the_collector_reads_is_read(relay):
    # Bodies compressed by the codings' own libraries (C zstd, C lz4, zlib, snappy), one
    # per Content-Encoding the Collector's OTLP/HTTP receiver accepts by default.
    import urllib.request
    import zlib

    import lz4.frame
    import snappy
    import zstandard
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    codings = {
        "zstd": lambda b: zstandard.ZstdCompressor(write_checksum=True).compress(b),
        "zlib": zlib.compress,
        "deflate": zlib.compress,
        "lz4": lambda b: lz4.frame.compress(b, content_checksum=True, block_checksum=True),
        "snappy": snappy.compress,
        "x-snappy-framed": lambda b: snappy.StreamCompressor().add_chunk(b),
    }
    r = relay()
    traces = []
    for name, compress in codings.items():
        spans, trace_id = s3_put_spans()
        body = compress(encode_spans(spans).SerializeToString())
        request = urllib.request.Request(
            f"http://{r.http}/v1/traces", data=body, method="POST",
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": name})
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200, name
        traces.append(trace_id)
    spans = r.spans(len(codings))
    for trace_id in traces:
        assert_relinked(spans, trace_id)


@pytest.mark.parametrize("make", [grpc_exporter, http_exporter], ids=["grpc", "http"])
def test_sdk_exporters_over_tls_and_mtls(relay, pki, make, monkeypatch):
    from opentelemetry.sdk.trace.export import SpanExportResult

    # requests lets these variables override the exporter's `certificate_file` (its session
    # `verify`), so where a machine sets them the test CA would never be used.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)

    tls = relay(*tls_flags(pki))
    result, trace_id = export_s3_put(make(tls, pki))
    assert result == SpanExportResult.SUCCESS
    assert_relinked(tls.spans(1), trace_id)

    mutual = relay(*tls_flags(pki, mutual=True))
    refused, _ = export_s3_put(make(mutual, pki, identity=False))
    assert refused == SpanExportResult.FAILURE, "a client without a certificate got through"
    result, trace_id = export_s3_put(make(mutual, pki, identity=True))
    assert result == SpanExportResult.SUCCESS
    spans = mutual.spans(1)
    assert [s["traceId"] for s in spans] == [trace_id], "only the client with a certificate"
    assert_relinked(spans, trace_id)


def test_rotel_exports_otlp_grpc_to_the_relay(relay, tmp_path):
    """rotel receives the SDK's OTLP/HTTP and exports OTLP/gRPC (its `otlp` exporter, a
    tonic client) to the relay's gRPC port. Over h2c only: rotel 0.0.1a15 refuses every
    exporter TLS setting at start ("Either both or neither of cert and key must be
    provided", even given both, or a CA alone), so TLS and mTLS are checked with grpcio."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    r = relay()
    rotel, (rotel_http, _) = start_on_free_ports(lambda http, grpc: subprocess.Popen(
        [rotel_agent(), "start",
         "--otlp-http-endpoint", f"127.0.0.1:{http}",
         "--otlp-grpc-endpoint", f"127.0.0.1:{grpc}",
         "--exporter", "otlp", "--otlp-exporter-protocol", "grpc",
         "--otlp-exporter-endpoint", f"http://{r.grpc}",
         "--batch-timeout", "100ms",
         "--pid-file", tmp_path / "rotel.pid", "--log-file", tmp_path / "rotel.log"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "rotel.err", "w"),
    ), 2, "rotel-agent", tmp_path / "rotel.err")
    try:
        result, trace_id = export_s3_put(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{rotel_http}/v1/traces"))
        assert result == SpanExportResult.SUCCESS
        assert_relinked(r.spans(1), trace_id)
    finally:
        rotel.terminate()
        try:
            rotel.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rotel.kill()


def test_sighup_reloads_the_certificate(relay, tmp_path):
    """A renewed certificate (here from a new CA) is served after SIGHUP, without a restart."""
    import shutil
    import signal

    from opentelemetry.sdk.trace.export import SpanExportResult

    old, new, live = make_pki(tmp_path / "old"), make_pki(tmp_path / "new"), tmp_path / "live"
    shutil.copytree(old, live)
    r = relay(*tls_flags(live))
    assert export_s3_put(grpc_exporter(r, old))[0] == SpanExportResult.SUCCESS
    for name in ("server.pem", "server.key"):
        shutil.copy(new / name, live / name)
    r.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not any("SIGHUP: reloaded the OTLP/gRPC TLS" in line for line in r.lines):
        assert time.monotonic() < deadline, "".join(r.lines)
        time.sleep(0.05)
    assert export_s3_put(grpc_exporter(r, new))[0] == SpanExportResult.SUCCESS
    assert export_s3_put(grpc_exporter(r, old))[0] == SpanExportResult.FAILURE


# --- refused requests, read with Google's own google.rpc types ------------------------------

# An ExportTraceServiceRequest whose span list ends inside a varint.
CUT_SHORT = b"\x0a\x05\x12\x03\x12\x01\xff"
BAD_TRACE_ID = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}'


def violations(status) -> list[tuple[str, str]]:
    """(field, description) of the BadRequest details of a google.rpc.Status."""
    from google.rpc import error_details_pb2

    found = []
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            found += [(v.field, v.description) for v in request.field_violations]
    return found


def test_a_refused_request_names_its_bad_field(relay):
    """OTLP: a 400 (and gRPC INVALID_ARGUMENT) SHOULD carry a google.rpc.BadRequest that
    describes the bad data. Read here by googleapis-common-protos and protobuf's own JSON
    mapping (which resolves the Any's @type), not by relink's code."""
    import urllib.error
    import urllib.request

    import grpc
    from google.protobuf import json_format
    from google.rpc import error_details_pb2, status_pb2  # noqa: F401 (registers BadRequest)

    r = relay()

    def post(body: bytes, content_type: str):
        request = urllib.request.Request(f"http://{r.http}/v1/traces", data=body,
                                         headers={"Content-Type": content_type})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        return refused.value.read()

    status = status_pb2.Status.FromString(post(CUT_SHORT, "application/x-protobuf"))
    assert status.message.startswith("otlp protobuf: ")
    assert violations(status) == [(
        "resource_spans.scope_spans.spans", status.message.split(": ", 2)[2])], status

    status = json_format.Parse(post(BAD_TRACE_ID, "application/json"), status_pb2.Status())
    assert violations(status) == [(
        "resourceSpans[0].scopeSpans[0].spans[0].traceId",
        'expected 32 hex digits, got "zz"')], status

    call = grpc.insecure_channel(r.grpc).unary_unary(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as refused:
        call(CUT_SHORT, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(refused.value.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0], status
    assert violations(status) == [(
        "resource_spans.scope_spans.spans", status.message.split(": ", 2)[2])], status
