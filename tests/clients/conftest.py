"""Shared fixtures for the client tests: paths, the relink binary, a moto server, and
the OpenTelemetry instrumentation (installed once per process, since instrumentors are
singletons)."""

import json
import logging
import os
import pathlib
import sys
from dataclasses import dataclass

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
# Under CI=true a skipped test fails the run; skip reasons are always printed.
from pytest_ci import pytest_collectreport, pytest_configure, pytest_runtest_logreport, pytest_sessionfinish  # noqa: E402,F401

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


@pytest.fixture(scope="session")
def relink_bin():
    """The relink CLI; a test that needs it fails (never skips) when it is not built."""
    assert RELINK.exists(), f"{RELINK} not built: run `cargo build --release -p relink-cli`"
    return RELINK


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
