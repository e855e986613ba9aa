"""End to end through a real collector: OTel Python SDK -> rotel -> relink relay -> file.

rotel (PyPI `rotel`, a Rust OpenTelemetry collector; its wheel carries `rotel-agent`)
receives the SDK's OTLP/HTTP export on 127.0.0.1, batches it, and exports it (OTLP/HTTP,
protobuf, gzip) to `relink serve`, which runs it through the relink component and appends
each relinked request to a file as one OTLP/JSON line. The S3 PutObject client span must
come out with its Datadog-compatible span-pointer link.

Needs `dist/relink` and `dist/relink.wasm` (./build.sh); fails naming them when they are
not built.
"""

import json
import subprocess
import time
from pathlib import Path

import pytest
from rotel_support import rotel_agent, start_on_free_ports
from sdk_spans import POINTER_HASH, send_s3_put
from test_relay_exporters import Relay


@pytest.fixture
def pipeline(tmp_path):
    out = tmp_path / "relinked.jsonl"
    procs = []
    try:
        relay = Relay(tmp_path, ["--out", out])
        procs.append(relay.proc)
        rotel, (rotel_port, _) = start_on_free_ports(lambda http, grpc: subprocess.Popen(
            [rotel_agent(), "start",
             "--otlp-http-endpoint", f"127.0.0.1:{http}",
             "--otlp-grpc-endpoint", f"127.0.0.1:{grpc}",
             "--exporter", "otlp", "--otlp-exporter-protocol", "http",
             "--otlp-exporter-endpoint", f"http://127.0.0.1:{relay.port}",
             "--batch-timeout", "100ms",
             "--pid-file", tmp_path / "rotel.pid", "--log-file", tmp_path / "rotel.log"],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "rotel.err", "w"),
        ), 2, "rotel", tmp_path / "rotel.err")
        procs.append(rotel)
        yield rotel_port, out
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def relinked_spans(out: Path, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists():
            spans = [
                span
                for line in out.read_text().splitlines() if line.strip()
                for rs in json.loads(line).get("resourceSpans", [])
                for ss in rs.get("scopeSpans", [])
                for span in ss.get("spans", [])
            ]
            if spans:
                return spans
        time.sleep(0.2)
    raise AssertionError(f"nothing relinked reached {out} within {timeout}s")


def attributes(item: dict) -> dict:
    return {kv["key"]: kv["value"].get("stringValue") for kv in item.get("attributes", [])}


def test_s3_put_span_gets_its_pointer_link_through_rotel_and_the_relay(pipeline):
    rotel_port, out = pipeline
    trace_id = send_s3_put(rotel_port)
    spans = relinked_spans(out)
    assert [s["name"] for s in spans] == ["S3.PutObject"]
    span = spans[0]
    assert span["traceId"] == trace_id
    links = span.get("links", [])
    assert [(link["traceId"], link["spanId"]) for link in links] == [("0" * 32, "0" * 16)]
    assert [attributes(link) for link in links] == [{
        "ptr.kind": "aws.s3.object", "ptr.dir": "d", "ptr.hash": POINTER_HASH, "link.kind": "span-pointer",
    }]
    hashes = next(kv["value"] for kv in span["attributes"] if kv["key"] == "relink.pointer.hashes")
    assert hashes == {"arrayValue": {"values": [{"stringValue": POINTER_HASH}]}}
