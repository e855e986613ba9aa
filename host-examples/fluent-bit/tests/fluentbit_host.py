"""A real Fluent Bit process for the end-to-end tests and the benchmark, and what stands
around it: an OTLP/HTTP sink for its outputs, relink's component as the oracle, and the
paths of the artifacts under test.

Every wait is bounded and every socket is on 127.0.0.1.
"""

import functools
import glob
import http.server
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLE = HERE.parent
ROOT = EXAMPLE.parents[1]
CONFIGS = {"conf": EXAMPLE / "fluent-bit.conf", "yaml": EXAMPLE / "fluent-bit.yaml"}
FLUENT_BIT = pathlib.Path(
    os.environ.get("FLUENT_BIT_BIN", ROOT / "target" / "fluent-bit-5.1.1" / "bin" / "fluent-bit")
)
MODULE = ROOT / "dist" / "relink-fluent-bit.wasm"
COMPONENT = ROOT / "dist" / "relink.wasm"
CLI = ROOT / "dist" / "relink"


def require(path, how):
    """The path of an artifact the tests need. Missing is a failure that says how to build
    it, as everywhere in the suite: an end-to-end test that did not run proves nothing."""
    if path.exists():
        return path
    pytest.fail(f"{path} is missing: run {how}")


def fluent_bit_binary():
    return require(FLUENT_BIT, "host-examples/fluent-bit/build-fluent-bit.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An HTTP/1.1 server on 127.0.0.1 that keeps every request (method, path, headers,
    body) in arrival order and answers 200. It keeps connections alive as HTTP/1.1 says:
    out_http and out_opentelemetry reuse them, and an HTTP/1.0 server that closes after
    each response makes Fluent Bit report broken pipes and retry or drop chunks."""

    def __init__(self):
        self.requests = []
        self.changed = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm the second
            # waits for the client's delayed ACK (40 ms a response).
            disable_nagle_algorithm = True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink.changed:
                    sink.requests.append((self.command, self.path, dict(self.headers), body))
                    sink.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count, timeout=30.0, path=None):
        """The requests (to `path`, if given) once there are at least `count`, or all of
        them after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                got = [r for r in self.requests if path is None or r[1] == path]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self.changed.wait(min(left, 0.5))


class FluentBit:
    """`fluent-bit -c CONFIG` with the environment variables the shipped configs read,
    in `workdir` (where relink.json is found when RELINK_CONFIG_DIR is `.`). stdout and
    stderr are collected line by line."""

    def __init__(self, config, workdir, otlp_port, upstream_port, logs_glob, module=MODULE,
                 config_dir="."):
        self.config = pathlib.Path(config)
        self.workdir = pathlib.Path(workdir)
        self.otlp_port = otlp_port
        self.env = dict(
            os.environ,
            RELINK_WASM=str(module),
            RELINK_CONFIG_DIR=str(config_dir),
            RELINK_LAMBDA_LOGS=str(logs_glob),
            RELINK_OTLP_LISTEN="127.0.0.1",
            RELINK_OTLP_PORT=str(otlp_port),
            RELINK_UPSTREAM_HOST="127.0.0.1",
            RELINK_UPSTREAM_PORT=str(upstream_port),
        )
        self.stdout = []
        self.stderr = []
        self.lines = threading.Condition()
        self.proc = None

    def _pump(self, stream, into):
        for raw in iter(stream.readline, b""):
            with self.lines:
                into.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.lines.notify_all()

    def __enter__(self, tries=3):
        for attempt in range(tries):
            self.stdout.clear()
            self.stderr.clear()
            self.proc = subprocess.Popen(
                [str(fluent_bit_binary()), "-c", str(self.config)],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            pumps = [threading.Thread(target=self._pump, args=(stream, into), daemon=True)
                     for stream, into in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr))]
            for pump in pumps:
                pump.start()
            try:
                self._wait_ready(timeout=30.0)
                return self
            except AssertionError:
                # The OTLP port was found free beforehand, and another process's
                # connection can take it before Fluent Bit binds it: start again on a
                # new port. Any other failure, or the last attempt's, is the test's.
                if self.proc.poll() is None or attempt == tries - 1:
                    raise
                for pump in pumps:
                    pump.join(5)
                taken = any("Cannot listen on" in l or "Error binding socket" in l for l in self.stderr)
                if not taken:
                    raise
                self.otlp_port = free_port()
                self.env["RELINK_OTLP_PORT"] = str(self.otlp_port)

    def _wait_ready(self, timeout):
        # Ready when the OTLP listener accepts and, if a log file exists, tail watches it
        # (tail sets its watches after the listener is up; Log_Level info shows it).
        watching = any(pathlib.Path(p).is_file() for p in glob.glob(self.env["RELINK_LAMBDA_LOGS"]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader threads take the last lines
                raise AssertionError(
                    f"fluent-bit exited with {self.proc.returncode}:\n" + "\n".join(self.stderr)
                )
            with self.lines:
                tailing = not watching or any("_fs_add(" in l for l in self.stderr)
            try:
                socket.create_connection(("127.0.0.1", self.otlp_port), timeout=0.5).close()
                if tailing:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            "fluent-bit was not ready within %ss:\n%s" % (timeout, "\n".join(self.stderr))
        )

    def __exit__(self, *exc):
        self.stop()

    def stop(self, timeout=15.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def wait_stdout(self, count, timeout=30.0):
        """The first `count` output lines of the stdout output (json_lines), or all of
        them after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.lines:
            while True:
                got = [l for l in self.stdout if l.startswith("{")]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self.lines.wait(min(left, 0.5))

    def relink_lines(self):
        """What the module printed on stderr (each line starts `relink: `)."""
        with self.lines:
            return [l for l in self.stderr if l.startswith("relink: ")]

    def post_traces(self, body, content_type="application/json", timeout=10.0):
        """POSTs one OTLP export to in_opentelemetry; the HTTP status."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.otlp_port}/v1/traces",
            data=body,
            method="POST",
            headers={"Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as e:
            return e.code


def without_filter(config, into):
    """A copy of the shipped fluent-bit.conf without the relink filter: the same pipeline as
    Fluent Bit alone runs it, the baseline the filter's pass-through is checked against. It
    is written into `into`, so its parsers file is named by its absolute path."""
    assert config.suffix == ".conf", config
    text = pathlib.Path(config).read_text()
    text = re.sub(r"\n\[FILTER\]\n(?:[ \t]+.*\n|[ \t]*#.*\n)*", "\n", text)
    text = text.replace("parsers-lambda.conf}", f"{EXAMPLE / 'parsers-lambda.conf'}}}")
    assert "[FILTER]" not in text and "RELINK_WASM" not in text, text
    path = pathlib.Path(into) / "baseline.conf"
    path.write_text(text)
    return path


def stdout_record(line):
    """A json_lines output line without the `date` key stdout puts first: the record's
    bytes as Fluent Bit serialises them."""
    match = re.match(r'^\{"date":[0-9.e+-]+,?', line)
    assert match, line
    rest = line[match.end():]
    return "{" + rest


# relink's WebAssembly component in Python wasmtime: the core, as the oracle for what the
# filter must produce (host-examples/component/tests checks the component against the native core).
INTERFACE = "relink:processor/relinker@0.1.0"


@functools.cache
def _compiled():
    from wasmtime import Engine
    from wasmtime.component import Component

    require(COMPONENT, "host-examples/component/build.sh")
    engine = Engine()
    return engine, Component.from_file(engine, str(COMPONENT))


class Core:
    """One processor of dist/relink.wasm."""

    def __init__(self, config_json="{}"):
        from wasmtime import Store, WasiConfig
        from wasmtime.component import Linker, Variant

        engine, component = _compiled()
        self.store = Store(engine)
        self.store.set_wasi(WasiConfig())
        linker = Linker(engine)
        linker.add_wasip2()
        instance = linker.instantiate(self.store, component)
        iface = instance.get_export_index(self.store, INTERFACE)
        self.funcs = {}
        for name in ["create", "process-traces", "process-log"]:
            prefix = "[static]" if name == "create" else "[method]"
            index = instance.get_export_index(self.store, f"{prefix}processor.{name}", iface)
            self.funcs[name] = instance.get_func(self.store, index)
        self._variant = Variant
        self.processor = self._call("create", config_json)
        assert not isinstance(self.processor, Variant), self.processor

    def _call(self, name, *args):
        func = self.funcs[name]
        result = func(self.store, *args)
        func.post_return(self.store)
        return result

    def process_log(self, record):
        """The enriched record (str), or the record itself when the core errs."""
        out = self._call("process-log", self.processor, record.encode())
        return record if isinstance(out, self._variant) else bytes(out).decode()

    def process_traces(self, body, now_unix_nano):
        """The relinked OTLP/JSON export (bytes), or the input when the core errs (what
        every relink host forwards)."""
        # wasmtime-py passes an enum case (`encoding.json`) as its name.
        out = self._call("process-traces", self.processor, body, "json", now_unix_nano)
        return body if isinstance(out, self._variant) else bytes(out)


def cli(*args, stdin=None, timeout=30):
    """Runs dist/relink (the native core) and returns stdout."""
    require(CLI, "./build.sh (dist/relink)")
    done = subprocess.run(
        [str(CLI), *args], input=stdin, capture_output=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def copy_config(text_or_path, workdir):
    """relink.json for a run in `workdir`."""
    target = pathlib.Path(workdir) / "relink.json"
    if isinstance(text_or_path, pathlib.Path):
        shutil.copyfile(text_or_path, target)
    else:
        target.write_text(text_or_path)
    return target
