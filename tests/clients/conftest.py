"""Shared fixtures for the client tests: paths, the relink binary, a moto server, and
the OpenTelemetry instrumentation (installed once per process, since instrumentors are
singletons)."""

import json
import logging
import os
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
HOOKS = REPO / "host-examples" / "instrumentation" / "python"
# The CLI under test; RELINK_BIN points the tests at another build.
RELINK = pathlib.Path(os.environ.get("RELINK_BIN", REPO / "target" / "release" / "relink"))

sys.path.insert(0, str(HOOKS))

# Key schema of the scenario's tables, as an application configures the hooks for PutItem.
KEY_NAMES = {"orders": ("pk", "sk")}


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def telemetry():
    import aws_scenario

    installed = aws_scenario.instrument(KEY_NAMES)
    yield installed
    aws_scenario.uninstrument()


def relink_unavailable():
    """Why `relink process` cannot be run, or None when it can."""
    if not RELINK.exists():
        return f"{RELINK} not built: run `cargo build --release -p relink-cli`"
    probe = subprocess.run([str(RELINK), "--help"], capture_output=True, text=True, timeout=30, check=False)
    if "process" not in probe.stdout + probe.stderr:
        return f"{RELINK} has no `process` subcommand yet (host-examples/cli is still a stub)"
    return None


@dataclass
class Scenario:
    s3: object
    dynamodb: object
    request: object  # ExportTraceServiceRequest
    json_path: object
    pb_path: object


@pytest.fixture(scope="session")
def scenario(moto_endpoint, telemetry, tmp_path_factory):
    """The real-client scenario, run once: its flows, request and OTLP files."""
    import aws_scenario
    import otlp_files

    telemetry.clear()
    s3 = aws_scenario.s3_flow(moto_endpoint, telemetry)
    dynamodb = aws_scenario.dynamodb_flow(moto_endpoint, telemetry)
    request = otlp_files.encode(telemetry.finished())
    out = tmp_path_factory.mktemp("otlp")
    json_path, pb_path = out / "spans.json", out / "spans.pb"
    json_path.write_text(json.dumps(otlp_files.to_otlp_json(request)), encoding="utf-8")
    pb_path.write_bytes(request.SerializeToString())
    return Scenario(s3, dynamodb, request, json_path, pb_path)
