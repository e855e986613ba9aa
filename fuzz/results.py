#!/usr/bin/env python3
"""Summarises fuzz/runs/<target>.log (written by run.sh) as the Markdown table in
RESULTS.md: per target, the last completed run's executions, time, speed, edge coverage
(`cov`), features (`ft`), corpus size and outcome.

    python3 fuzz/results.py
"""

import pathlib
import re

RUNS = pathlib.Path(__file__).resolve().parent / "runs"


def last_run(text):
    """The text of the last `== ... target: -runs=...` section that finished."""
    sections = re.split(r"^== (?=\d{4}-)", text, flags=re.M)
    for section in reversed(sections):
        if re.search(r"^== \S+ exit \d+ after \d+s", section, flags=re.M):
            return section
    return None


def main():
    print("| target | executions | time | exec/s | cov (edges) | ft (features) | corpus | result |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for log in sorted(RUNS.glob("*.log")):
        if log.name.startswith("smoke-"):
            continue
        section = last_run(log.read_text(errors="replace"))
        if section is None:
            continue
        done = re.search(r"Done (\d+) runs in (\d+) second", section)
        final = [l for l in section.splitlines() if re.match(r"#\d+\s+(DONE|NEW|REDUCE|pulse)", l)]
        stats = final[-1] if final else ""
        cov = re.search(r"cov: (\d+)", stats)
        ft = re.search(r"ft: (\d+)", stats)
        corp = re.search(r"corp: (\S+)", stats)
        status = re.search(r"^== \S+ exit (\d+) after (\d+)s", section, flags=re.M)
        crashed = re.search(r"(deadly signal|panicked at|ERROR: libFuzzer)", section)
        runs, secs = (int(done.group(1)), int(done.group(2))) if done else (0, int(status.group(2)))
        result = "crash" if crashed else ("ok" if status.group(1) == "0" else f"exit {status.group(1)}")
        print(
            f"| `{log.stem}` | {runs:,} | {secs} s | {runs // max(secs, 1):,} | "
            f"{cov.group(1) if cov else '?'} | {ft.group(1) if ft else '?'} | "
            f"{corp.group(1) if corp else '?'} | {result} |"
        )


if __name__ == "__main__":
    main()
