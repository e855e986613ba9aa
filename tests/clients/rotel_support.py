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


def start_on_free_ports(start, count: int, name: str, stderr: Path,
                        tries: int = 3) -> tuple[subprocess.Popen, list[int]]:
    """`start(*ports)` on `count` free ports, once its first port answers; `start` writes the
    child's stderr to `stderr`. A child that exits because a port is in use is started again
    on new ports: a port found free here can be taken by another process's connection before
    the child binds it (rotel cannot be told to pick its own). Any other failure, and the
    last attempt's, is raised."""
    for attempt in range(tries):
        ports = [free_port() for _ in range(count)]
        proc = start(*ports)
        try:
            wait_for_port(ports[0], proc, name)
            return proc, ports
        except RuntimeError as e:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            said = stderr.read_text(errors="replace") if stderr.exists() else ""
            if "Address already in use" not in said or attempt == tries - 1:
                raise RuntimeError(f"{e}:\n{said}") from e


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
