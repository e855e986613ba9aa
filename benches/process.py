#!/usr/bin/env python3
"""The whole-process benchmark (issue 18): `relink process` against a prost round-trip
program, as a user runs them.

For 0%, 10% and 100% evidence it generates a batch (examples/gen_batch.rs: 200k spans,
20 attributes per span, evidence as S3 producer/consumer pairs), then runs 5 times each

  relink process --in BATCH --out /dev/null --config CONFIG   (limits lifted to 1 GiB)
  prost_roundtrip BATCH /dev/null     (examples/prost_roundtrip.rs: decode + encode_to_vec)

and prints the median CPU time (user + sys) and peak RSS of each (wait4's rusage of that
child alone), the ratio relink/prost and relink's peak RSS over the input size.

  benches/process.py                      # build, generate (once), measure
  benches/process.py --spans 20000 --runs 3
  benches/process.py --relink dist/relink # measure another build of the CLI

Batches and the config go to target/process-bench/. The machine should be otherwise idle.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
GIB = 1 << 30


def build():
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "relink-cli", "-p", "relink",
         "--bin", "relink", "--example", "gen_batch", "--example", "prost_roundtrip"],
        cwd=ROOT, check=True)


def measure(argv):
    """CPU seconds (user + sys) and peak RSS in bytes of one run of argv."""
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited with {child.returncode}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024  # ru_maxrss is KiB


def median_of(argv, runs):
    samples = [measure(argv) for _ in range(runs)]
    return (statistics.median(s[0] for s in samples),
            statistics.median(s[1] for s in samples))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--evidence", type=int, nargs="+", default=[0, 10, 100])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--relink", default=os.path.join(TARGET, "release", "relink"))
    parser.add_argument("--no-build", action="store_true", help="use the binaries as built")
    args = parser.parse_args()

    if not args.no_build:
        build()
    out_dir = os.path.join(TARGET, "process-bench")
    os.makedirs(out_dir, exist_ok=True)
    config = os.path.join(out_dir, "config.json")
    with open(config, "w") as f:
        json.dump({"limits": {"max_request_bytes": GIB, "max_decompressed_bytes": GIB}}, f)
    examples = os.path.join(TARGET, "release", "examples")

    print(f"{args.spans} spans, 20 attributes/span, evidence as S3 producer/consumer pairs; "
          f"median of {args.runs} runs")
    print(f"{'evidence':>8} {'input':>9} {'relink cpu':>11} {'prost cpu':>10} {'ratio':>7} "
          f"{'relink RSS':>11} {'RSS/input':>10} {'prost RSS':>10}")
    for percent in args.evidence:
        batch = os.path.join(out_dir, f"batch-{args.spans}-{percent}.pb")
        if not os.path.exists(batch):
            subprocess.run([os.path.join(examples, "gen_batch"), "--spans", str(args.spans),
                            "--evidence", str(percent), "--out", batch], check=True)
        size = os.path.getsize(batch)
        relink_cpu, relink_rss = median_of(
            [args.relink, "process", "--in", batch, "--out", "/dev/null", "--config", config],
            args.runs)
        prost_cpu, prost_rss = median_of(
            [os.path.join(examples, "prost_roundtrip"), batch, "/dev/null"], args.runs)
        mib = 1 << 20
        print(f"{percent:>7}% {size / 1e6:>7.0f}MB {relink_cpu:>10.2f}s {prost_cpu:>9.2f}s "
              f"{relink_cpu / prost_cpu:>6.2f}x {relink_rss / mib:>7.0f} MiB {relink_rss / size:>9.2f}x "
              f"{prost_rss / mib:>6.0f} MiB")


if __name__ == "__main__":
    main()
