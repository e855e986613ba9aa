"""Runs the Node hooks' own tests (node:test, no dependencies) as part of this suite."""

import shutil
import subprocess

import pytest

from conftest import REPO

NODE_DIR = REPO / "host-examples" / "instrumentation" / "node"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_hooks():
    done = subprocess.run(["node", "--test", "test/"], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout
