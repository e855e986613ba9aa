"""Shared fixtures for the client tests: paths, the relink binary, a moto server, and
the OpenTelemetry instrumentation (installed once per process, since instrumentors are
singletons)."""

import logging
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
HOOKS = REPO / "host-examples" / "instrumentation" / "python"
RELINK = REPO / "target" / "release" / "relink"

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
