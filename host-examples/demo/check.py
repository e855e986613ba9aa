"""Checks the demo's result: the relay's output (one OTLP/JSON export per line) must hold one
trace whose spans are exactly those of the golden case's expected output (trace, span and
parent ids, names, kinds, link counts), so `./build.sh` fails when the bundled scenario
stops becoming one trace. Standard library only (build.sh's demo runs before any venv).

    python3 host-examples/demo/check.py OUT.jsonl tests/golden/relink/serverless-demo
"""

import json
import pathlib
import sys


def spans(documents):
    found = []
    for doc in documents:
        for rs in doc.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    found.append((s.get("traceId"), s.get("spanId"), s.get("parentSpanId", ""),
                                  s.get("name"), s.get("kind"), len(s.get("links", []))))
    return sorted(found)


def main(out, case):
    lines = [line for line in pathlib.Path(out).read_text(encoding="utf-8").splitlines() if line.strip()]
    got = spans(json.loads(line) for line in lines)
    expected_files = sorted(pathlib.Path(case).glob("expected-*.json"))
    want = spans(json.loads(p.read_text(encoding="utf-8")) for p in expected_files)
    problems = []
    if len(lines) != len(expected_files):
        problems.append(f"{len(lines)} export requests in {out}, expected {len(expected_files)}")
    traces = {s[0] for s in got}
    if len(traces) != 1:
        problems.append(f"{len(traces)} traces, expected one")
    if got != want:
        missing = [s[3] for s in want if s not in got]
        extra = [s[3] for s in got if s not in want]
        problems.append(f"spans differ from {case}: missing {missing}, unexpected {extra}")
    if problems:
        print("demo check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"demo check: one trace ({traces.pop()}) of {len(got)} spans, as {case} expects")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    sys.exit(main(sys.argv[1], sys.argv[2]))
