#!/usr/bin/env python3
"""Records per second through a real Fluent Bit 5.1.1, with and without relink's filter.

    .venv/bin/python host-examples/fluent-bit/bench.py [--records N] [--runs R]

Two pipelines from the shipped fluent-bit.conf (its environment variables set, as the
tests do): the config itself, and the same without its [FILTER] section (the baseline).
Each run starts Fluent Bit on an empty log file, appends N Lambda log lines in one write
(the mix of host-examples/fluent-bit/tests: Telemetry API, runtime, REPORT, Powertools,
Step Functions lines and lines without evidence) and times from that write to the Nth
record on the stdout output; the rate is N over that time, the best of R runs. Then, with
the filter, OTLP/JSON exports (tests/golden/relink/s3-put-then-notify/input-1.json) POSTed
one after another to in_opentelemetry and out through out_http to a local sink: exports
per second from the first POST to the last request at the sink. A benchmark, not a test:
the numbers depend on the machine (write them to benches/RESULTS.md with its load).
"""

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "tests"))

from fluentbit_host import (  # noqa: E402
    CONFIGS,
    FLUENT_BIT,
    MODULE,
    ROOT,
    FluentBit,
    Sink,
    free_port,
    without_filter,
)
from test_fluent_bit import LAMBDA_LINES, PLAIN_LINES, all_lines, stepfn_lines  # noqa: E402

# The record mixes: every test line, or one kind of them.
MIXES = {
    "all": all_lines,
    "lambda": lambda: LAMBDA_LINES,
    "plain": lambda: PLAIN_LINES,
    "stepfn": stepfn_lines,
}


def count_stdout(proc, target, done):
    """Counts newline-terminated records on the process's stdout; sets `done` at target."""
    seen = 0
    while True:
        chunk = os.read(proc.stdout.fileno(), 1 << 20)
        if not chunk:
            break
        seen += chunk.count(b"\n")
        if seen >= target and not done.is_set():
            done.set()
    done.set()


def log_run(config, records, work, mix):
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / "function.log"
    log.write_text("")
    lines = MIXES[mix]()
    payload = "".join(lines[i % len(lines)] + "\n" for i in range(records)).encode()
    otlp = free_port()
    env = dict(
        os.environ,
        RELINK_WASM=str(MODULE),
        RELINK_CONFIG_DIR=".",
        RELINK_LAMBDA_LOGS=str(logs / "*.log"),
        RELINK_OTLP_LISTEN="127.0.0.1",
        RELINK_OTLP_PORT=str(otlp),
        RELINK_UPSTREAM_HOST="127.0.0.1",
        RELINK_UPSTREAM_PORT=str(free_port()),
    )
    proc = subprocess.Popen(
        [str(FLUENT_BIT), "-c", str(config)],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        import socket

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", otlp), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        done = threading.Event()
        threading.Thread(target=count_stdout, args=(proc, records, done), daemon=True).start()
        start = time.monotonic()
        with log.open("ab") as f:
            f.write(payload)
        if not done.wait(timeout=600):
            raise SystemExit("timed out waiting for the records")
        return records / (time.monotonic() - start)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def export_run(exports, work):
    body = (ROOT / "tests/golden/relink/s3-put-then-notify/input-1.json").read_bytes()
    (work / "logs").mkdir(exist_ok=True)
    with Sink() as sink, FluentBit(
        CONFIGS["conf"], work, free_port(), sink.port, work / "logs" / "*.log"
    ) as fb:
        start = time.monotonic()
        for _ in range(exports):
            assert fb.post_traces(body) in (200, 201)
        got = sink.wait_for(exports, timeout=600, path="/v1/traces")
        elapsed = time.monotonic() - start
        assert len(got) == exports, len(got)
    return exports / elapsed, len(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--exports", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--mix",
        choices=sorted(MIXES),
        default="all",
        help="log lines: all the tests' lines (default), or the Lambda, evidence-free or Step Functions ones",
    )
    args = parser.parse_args()
    for path in (FLUENT_BIT, MODULE):
        if not path.exists():
            raise SystemExit(f"{path} is missing (host-examples/fluent-bit/build-fluent-bit.sh, ./build.sh)")
    version = subprocess.run([str(FLUENT_BIT), "--version"], capture_output=True, text=True).stdout
    print(version.splitlines()[0] if version else FLUENT_BIT)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        configs = {
            "without the filter": without_filter(CONFIGS["conf"], tmp),
            "with relink": CONFIGS["conf"],
        }
        for name, config in configs.items():
            rates = []
            for run in range(args.runs):
                work = tmp / f"{name.replace(' ', '-')}-{run}"
                work.mkdir()
                rates.append(log_run(config, args.records, work, args.mix))
            print(
                f"log records ({args.mix}), {name}: {max(rates):,.0f} records/s "
                f"(best of {args.runs}; runs: {', '.join(f'{r:,.0f}' for r in rates)})"
            )
        if args.exports == 0:
            return
        rates = []
        for run in range(args.runs):
            work = tmp / f"exports-{run}"
            work.mkdir()
            rate, size = export_run(args.exports, work)
            rates.append(rate)
        print(
            f"OTLP/JSON exports ({size} bytes, 2 spans) with relink, in_opentelemetry -> out_http: "
            f"{max(rates):,.0f} exports/s (best of {args.runs}; runs: {', '.join(f'{r:,.0f}' for r in rates)})"
        )


if __name__ == "__main__":
    main()
