"""The Node hooks (host-examples/instrumentation/node) under node --test, through
tests/node_test.sh (which fails on a failure, and under CI=true on a skip):

- their unit tests (no dependencies), on the call shapes of the instrumentations;
- the real-client test (test/real-clients): @opentelemetry/sdk-trace-node with
  @opentelemetry/instrumentation-aws-sdk and -aws-lambda, AWS SDK v3 clients against
  moto_server, spans exported to `relink serve`. Its npm packages are installed from its
  package-lock.json by build.sh (`npm ci`); it needs dist/relink and dist/relink.wasm.
"""

import os
import shutil
import subprocess
import sys

from conftest import REPO

NODE_DIR = REPO / "host-examples" / "instrumentation" / "node"
REAL = NODE_DIR / "test" / "real-clients"
RUNNER = REPO / "tests" / "node_test.sh"


def node_test(cwd, *args, env=None, timeout=120):
    assert shutil.which("node"), "node is not installed (Node 20 is a build requirement)"
    done = subprocess.run([str(RUNNER), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_node_hooks_unit():
    out = node_test(NODE_DIR, "test/relink-hooks.test.js")
    assert "# fail 0" in out


def test_node_hooks_under_the_real_instrumentations():
    assert (REAL / "node_modules" / "@opentelemetry" / "instrumentation-aws-sdk").is_dir(), (
        f"run `npm ci` in {REAL} (./build.sh test does)")
    moto = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    assert moto, f"moto_server is not installed beside {sys.executable} (pip install moto[server])"
    env = {**os.environ, "MOTO_SERVER": moto}
    out = node_test(REAL, "real-clients.test.js", env=env, timeout=300)
    assert "# fail 0" in out
