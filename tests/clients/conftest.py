"""Shared fixtures for the client tests: paths, the relink binary, a moto server, and
the OpenTelemetry instrumentation (installed once per process, since instrumentors are
singletons)."""

import logging
import os
import pathlib
import subprocess
import sys

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
