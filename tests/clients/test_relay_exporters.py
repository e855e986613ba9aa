"""The relay's upstream exporter against real peers, on 127.0.0.1:

- the OTel Python SDK's OTLP/HTTP exporter sends an S3 PutObject span to `relink serve`,
  which forwards the relinked span over HTTPS (a test CA made here with `cryptography`) to
  a Python upstream that demands an API key; the relay is configured by the standard
  OTEL_EXPORTER_OTLP_* variables alone;
- a wrong key is a clear error in the relay's log (without the key), the acknowledged batch
  stays in the spool, and a restart with the right key (a flag over the --relay-config
  file) delivers it;
- rotel (PyPI `rotel`, a Rust OpenTelemetry collector) receives the relay's OTLP/gRPC
  export and forwards it to a recording upstream.

Needs `dist/relink` and `dist/relink.wasm` (./build.sh); fails naming them when missing.
"""

import gzip
import http.server
import json
import os
import re
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import tls_support
from rotel_support import rotel_agent, start_on_free_ports
from sdk_spans import POINTER_HASH, send_s3_put

ROOT = Path(__file__).resolve().parents[2]
RELINK = ROOT / "dist" / "relink"
COMPONENT = ROOT / "dist" / "relink.wasm"
API_KEY = "relink test key"


class Recorder:
    """A loopback OTLP/HTTP upstream (plain or TLS) that records authorized requests and
    answers 401 to a request without the API key."""

    def __init__(self, tls: ssl.SSLContext | None = None, api_key: str | None = None):
        self.accepted: list[tuple[dict, bytes]] = []
        self.refused = 0
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if api_key is not None and self.headers.get("x-api-key") != api_key:
                    recorder.refused += 1
                    self._answer(401, b"invalid API key")
                    return
                recorder.accepted.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self._answer(200, b"")

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self, timeout: float = 30.0) -> list:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = []
            for headers, body in list(self.accepted):
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                spans += [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
            if spans:
                return spans
            time.sleep(0.1)
        raise AssertionError(f"no span reached the upstream within {timeout}s")

    def close(self):
        self.server.shutdown()


def make_pki(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """The test PKI in `directory`; returns the CA file and the upstream's TLS context."""
    pki = tls_support.make_pki(directory)
    return pki / "ca.pem", tls_support.server_context(pki)


class Relay:
    """`relink serve` as a process, its stderr in a file. It listens on ports the kernel
    picks (`127.0.0.1:0`, and the same for a `--grpc-listen` given as `127.0.0.1:0`) and
    `port` / `grpc_port` are read from its "listening on" line: a port found free
    beforehand can be taken by another process's connection before the relay binds it."""

    def __init__(self, tmp_path: Path, args: list, env: dict | None = None, name: str = "relay"):
        for built in (RELINK, COMPONENT):
            assert built.exists(), f"{built} is not built (run ./build.sh)"
        self.log_path = tmp_path / f"{name}.log"
        # Only the variables given: the test process's own OTEL_* must not leak in.
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        self.proc = subprocess.Popen(
            [RELINK, "serve", "--listen", "127.0.0.1:0", "--component", COMPONENT,
             "--log-interval", "0", *args],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"), env={**clean, **(env or {})},
        )
        self.port, self.grpc_port = self._listening(name)

    def _listening(self, name: str, timeout: float = 30.0) -> tuple[int, int | None]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Whole lines only: the relay writes its line in several writes.
            text = self.log()
            lines = text[:text.rfind("\n") + 1]
            if m := re.search(r"listening on https?://[\d.]+:(\d+)/v1/traces, (?:OTLP/gRPC on [\d.]+:(\d+))?",
                              lines):
                return int(m.group(1)), (int(m.group(2)) if m.group(2) else None)
            if self.proc.poll() is not None:
                raise RuntimeError(f"relink serve ({name}) exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"relink serve ({name}) did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return self.log()
            time.sleep(0.1)
        raise AssertionError(f"`{text}` not in the relay's log within {timeout}s:\n{self.log()}")

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def assert_relinked_s3_put(spans: list, trace_id: str) -> None:
    assert [s.name for s in spans] == ["S3.PutObject"]
    span = spans[0]
    assert span.trace_id.hex() == trace_id
    pointer = {kv.key: kv.value.string_value for kv in span.links[0].attributes}
    assert pointer == {"ptr.kind": "aws.s3.object", "ptr.dir": "d", "ptr.hash": POINTER_HASH,
                       "link.kind": "span-pointer"}


@pytest.fixture
def https_upstream(tmp_path):
    ca, context = make_pki(tmp_path)
    upstream = Recorder(tls=context, api_key=API_KEY)
    yield ca, upstream
    upstream.close()


def test_sdk_spans_reach_an_https_upstream_with_its_api_key_set_by_otel_variables(tmp_path, https_upstream):
    ca, upstream = https_upstream
    relay = Relay(tmp_path, [], env={
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"https://127.0.0.1:{upstream.port}/v1/traces",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=relink%20test%20key",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(ca),
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    })
    try:
        trace_id = send_s3_put(relay.port)
        assert_relinked_s3_put(upstream.spans(), trace_id)
        headers = upstream.accepted[0][0]
        assert (headers["content-type"], headers["content-encoding"]) == ("application/x-protobuf", "gzip")
        assert upstream.refused == 0
    finally:
        relay.stop()
    log = relay.log()
    assert "(http/protobuf, gzip, headers x-api-key)" in log, log
    assert API_KEY not in log and "relink%20test%20key" not in log


def test_a_wrong_api_key_keeps_the_batch_in_the_spool_until_the_key_is_fixed(tmp_path, https_upstream):
    ca, upstream = https_upstream
    config = tmp_path / "relay.json"
    config.write_text(json.dumps({
        "upstream": f"https://127.0.0.1:{upstream.port}",
        "upstream-ca": str(ca),
        "upstream-header": ["x-api-key=wrong-key-123"],
        "spool": str(tmp_path / "spool"),
        "retry-initial": "100ms",
        "upstream-timeout": "2s",
        "shutdown-timeout": "3s",
    }))
    relay = Relay(tmp_path, ["--relay-config", config], name="wrong-key")
    try:
        trace_id = send_s3_put(relay.port)
        log = relay.wait_log("refused the relay's credentials (status 401: invalid API key)")
        assert "check --upstream-header or OTEL_EXPORTER_OTLP_HEADERS; the batch is kept and retried" in log
    finally:
        code = relay.stop()
    log = relay.log()
    assert "wrong-key-123" not in log
    assert code == 0, log
    assert "1 batches kept in the spool" in log, log
    assert upstream.accepted == [] and upstream.refused >= 1
    # The flag wins over the file's header; the spooled batch is delivered.
    fixed = Relay(tmp_path, ["--relay-config", config, "--upstream-header", f"x-api-key={API_KEY}"], name="fixed")
    try:
        assert_relinked_s3_put(upstream.spans(), trace_id)
    finally:
        fixed.stop()


def test_rotel_receives_the_relays_otlp_grpc_export(tmp_path):
    upstream = Recorder()
    rotel, (grpc_port, http_port) = start_on_free_ports(lambda grpc_port, http_port: subprocess.Popen(
        [rotel_agent(), "start",
         "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
         "--otlp-http-endpoint", f"127.0.0.1:{http_port}",
         "--exporter", "otlp", "--otlp-exporter-protocol", "http",
         "--otlp-exporter-endpoint", f"http://127.0.0.1:{upstream.port}",
         "--batch-timeout", "100ms",
         "--pid-file", tmp_path / "rotel.pid", "--log-file", tmp_path / "rotel.log"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "rotel.err", "w"),
    ), 2, "rotel", tmp_path / "rotel.err")
    relay = None
    try:
        relay = Relay(tmp_path, ["--upstream", f"http://127.0.0.1:{grpc_port}", "--upstream-protocol", "grpc",
                                 "--upstream-compression", "gzip"])
        trace_id = send_s3_put(relay.port)
        assert_relinked_s3_put(upstream.spans(), trace_id)
    finally:
        if relay is not None:
            relay.stop()
        rotel.terminate()
        try:
            rotel.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rotel.kill()
        upstream.close()
    assert "grpc" in relay.log()
