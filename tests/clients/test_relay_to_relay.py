"""A relay exporting to a hosted backend, imitated by a second relay on 127.0.0.1: the first
relay, configured by OTEL_EXPORTER_OTLP_* alone, sends OTLP/gRPC over TLS (a test CA made
here) with an API-key header; the second serves OTLP/gRPC over TLS and demands that key
(`--bearer-token-file`). The OTel Python SDK's gRPC exporter (gzip) feeds the first.

Also what an SRE meets around it: a clean restart of a spooled relay sends nothing twice,
and an OTEL_EXPORTER_OTLP_ENDPOINT naming the relay itself (an environment meant for SDKs)
is refused at start instead of looping every batch back in.

Needs `dist/relink` and `dist/relink.wasm` (./build.sh); fails naming them when missing.
"""

import json
import subprocess
import time
import urllib.request

from rotel_support import free_port
from test_relay_exporters import COMPONENT, RELINK, Relay, make_pki

TOKEN = "hosted-backend-key-7f3a"


def export_over_grpc(port: int, name: str) -> str:
    """One span through the SDK's OTLP/gRPC exporter (gzip); returns its trace id."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from grpc import Compression

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("relay-to-relay").start_as_current_span(name) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True,
                                compression=Compression.Gzip, timeout=10)
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    exporter.shutdown()
    return trace_id


def out_spans(path, timeout: float = 20.0, want: int = 1) -> list:
    """(trace id, name) of every span in an --out file, once it holds `want`."""
    deadline = time.monotonic() + timeout
    spans = []
    while time.monotonic() < deadline:
        spans = []
        if path.exists():
            for line in path.read_text().splitlines():
                for rs in json.loads(line)["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        spans += [(s["traceId"], s["name"]) for s in ss["spans"]]
        if len(spans) >= want:
            return spans
        time.sleep(0.1)
    raise AssertionError(f"{len(spans)} of {want} spans in {path} within {timeout}s")


def metrics(port: int, scheme: str = "http", context=None) -> str:
    with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/metrics", timeout=5, context=context) as r:
        return r.read().decode()


def test_grpc_tls_and_an_api_key_relay_to_relay_with_no_replay_after_a_clean_restart(tmp_path):
    import ssl

    ca, _ = make_pki(tmp_path)
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    backend_out = tmp_path / "backend.jsonl"
    backend = Relay(tmp_path, ["--grpc-listen", "127.0.0.1:0",
                               "--tls-cert", tmp_path / "server.pem", "--tls-key", tmp_path / "server.key",
                               "--bearer-token-file", token, "--out", backend_out], name="backend")
    backend_grpc = backend.grpc_port
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"https://localhost:{backend_grpc}/",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(ca),
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization = Bearer%20{TOKEN}",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    }
    spool = ["--spool", tmp_path / "spool", "--retry-initial", "100ms"]
    edge = Relay(tmp_path, ["--grpc-listen", "127.0.0.1:0", *spool], env=env, name="edge")
    try:
        trace_id = export_over_grpc(edge.grpc_port, "checkout")
        assert out_spans(backend_out) == [(trace_id, "checkout")]
        assert "relink_relay_grpc_responses_total{grpc_code=\"OK\"} 1" in metrics(edge.port)
        backend_metrics = metrics(backend.port, "https", ssl.create_default_context(cafile=str(ca)))
        assert "relink_relay_grpc_responses_total{grpc_code=\"OK\"} 1" in backend_metrics
        assert TOKEN not in backend_metrics and TOKEN not in metrics(edge.port)
    finally:
        code = edge.stop()
    log = edge.log()
    assert code == 0 and "every acknowledged batch was delivered" in log, log
    assert f"(grpc, gzip, headers authorization)" in log, log
    # A clean restart replays nothing that was delivered: the backend gets the next span
    # and not the first one again.
    edge = Relay(tmp_path, ["--grpc-listen", "127.0.0.1:0", *spool], env=env, name="edge-again")
    try:
        second = export_over_grpc(edge.grpc_port, "payment")
        assert out_spans(backend_out, want=2) == [(trace_id, "checkout"), (second, "payment")]
    finally:
        assert edge.stop() == 0
        backend.stop()
    assert "replaying" not in edge.log(), edge.log()
    for relay in (edge, backend):
        assert TOKEN not in relay.log()


def test_an_upstream_that_is_the_relay_itself_is_refused_at_start(tmp_path):
    for built in (RELINK, COMPONENT):
        assert built.exists(), f"{built} is not built (run ./build.sh)"
    port = free_port()
    for endpoint in (f"http://localhost:{port}", f"http://127.0.0.1:{port}/"):
        done = subprocess.run(
            [RELINK, "serve", "--listen", f"127.0.0.1:{port}", "--grpc-listen", "off",
             "--component", COMPONENT, "--log-interval", "0"],
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "is this relay's own listener: every batch would loop back in" in done.stderr
