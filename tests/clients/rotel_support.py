"""Shared by the rotel tests: the agent binary inside the `rotel` wheel, free ports, and
waiting for a child process to listen."""

import socket
import subprocess
import time
from pathlib import Path


def rotel_agent() -> Path:
    import rotel

    return Path(rotel.__file__).parent / "rotel-agent"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, name: str = "rotel-agent", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout}s")
