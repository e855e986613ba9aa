#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the repository's real inputs: tests/fixtures (AWS
payloads, Step Functions logs and histories), tests/golden (OTLP batches, configs, events),
tests/otlp, tests/malformed and the shipped host configs. Targets that read a mode byte get
each seed once per mode. Idempotent; libFuzzer adds its own finds beside these.

    python3 fuzz/seed.py
"""

import base64
import gzip
import hashlib
import json
import pathlib
import subprocess
import tempfile
import zlib

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def files(*globs):
    out = []
    for g in globs:
        out.extend(p for p in ROOT.glob(g) if p.is_file())
    return sorted(set(out))


def put(target, data, mode=None):
    if mode is not None:
        data = bytes([mode]) + data
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def awslogs_data(path):
    try:
        doc = json.loads(path.read_text())
        return doc["awslogs"]["data"]
    except (ValueError, KeyError, TypeError):
        return None


def inflate(data):
    """The inflated document, or None for the malformed corpus's broken data."""
    try:
        raw = base64.b64decode(data)
    except ValueError:
        return None
    for decompress in (gzip.decompress, zlib.decompress):
        try:
            return decompress(raw)
        except (OSError, zlib.error, EOFError):
            pass
    return None


def as_protobuf(json_inputs):
    """Protobuf encodings of OTLP/JSON seeds, through the relink CLI when it is built
    (`cargo build -p relink-cli`); the CLI relinks as it converts, which is fine for seeds."""
    cli = next((p for p in (ROOT / "target/release/relink", ROOT / "target/debug/relink") if p.exists()), None)
    if cli is None:
        return []
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, p in enumerate(json_inputs):
            dest = pathlib.Path(tmp) / f"{i}.pb"
            done = subprocess.run([str(cli), "process", "--in", str(p), "--out", str(dest),
                                   "--format", "protobuf"], capture_output=True)
            if done.returncode == 0 and dest.exists():
                out.append(dest.read_bytes())
    return out


def main():
    otlp_json = files("tests/otlp/*.json", "tests/golden/relink/*/input-*.json",
                      "tests/golden/relink/*/expected-*.json", "tests/golden/event/*/*/inferred.json",
                      "tests/malformed/otlp/*.json")
    otlp_pb = files("tests/otlp/*.pb", "tests/malformed/otlp/*.pb")
    events = files("tests/fixtures/**/*.json", "tests/golden/event/*/*/input.json",
                   "tests/malformed/event/*.json")
    configs = files("host-examples/**/*.json", "tests/golden/*/*/config.json",
                    "tests/malformed/config/*.json")
    stepfn = files("tests/fixtures/stepfunctions/**/*.json", "tests/fixtures/stepfunctions/**/*.ndjson",
                   "tests/golden/stepfn/*/input*")

    # processor mode byte: bit 0 gzip, the rest picks one of the three configurations.
    for p in otlp_pb:
        put("otlp_protobuf", p.read_bytes())
        put("processor", p.read_bytes(), 0)
    for pb in as_protobuf([p for p in otlp_json if "malformed" not in str(p)]):
        put("otlp_protobuf", pb)
        for mode in (0, 2, 4):
            put("processor", pb, mode)
    for p in otlp_json:
        put("otlp_json", p.read_bytes())
        for mode in (0, 1, 2, 4):
            put("processor", p.read_bytes(), mode)
    for p in events:
        put("event", p.read_bytes())
        data = awslogs_data(p)
        if isinstance(data, str):
            put("cloudwatch_logs", data.encode(), 0)
            doc = inflate(data)
            if doc is not None:
                for mode in (1, 2, 3):
                    put("cloudwatch_logs", doc, mode)
    for p in configs:
        put("config", p.read_bytes())
    for p in stepfn:
        for mode in (0, 1, 2, 3, 0x10, 0x11):
            put("stepfn", p.read_bytes(), mode)
    # web: 0 config, 1 otlp_to_json, 2 traces, 3 event, 4 logs, 5/6 history.
    for p in configs:
        put("web", p.read_bytes(), 0)
    for p in otlp_json[::4] + otlp_pb:
        put("web", p.read_bytes(), 1)
        put("web", p.read_bytes(), 2)
    for p in events[::2]:
        put("web", p.read_bytes(), 3)
    for p in stepfn:
        for mode in (4, 5, 6):
            put("web", p.read_bytes(), mode)
    # envoy_body mode byte: bits 0-1 framing (0 protobuf, 1 JSON, 2 gRPC), bit 2 gzip,
    # the rest the configuration.
    for pb in [p.read_bytes() for p in otlp_pb] + as_protobuf([p for p in otlp_json if "malformed" not in str(p)])[::3]:
        put("envoy_body", pb, 0)
        put("envoy_body", b"\0" + len(pb).to_bytes(4, "big") + pb, 2)
        put("envoy_body", pb, 4 | 8)
    for p in otlp_json[::3]:
        put("envoy_body", p.read_bytes(), 1)
        put("envoy_body", p.read_bytes(), 1 | 4 | 16)
    # fluent_bit: the record as Fluent Bit's JSON event format gives it: OTLP/JSON export
    # requests (raw_traces), log records (Step Functions execution log lines, CloudWatch
    # subscription records, Lambda Telemetry API events).
    for p in otlp_json[::3]:
        put("fluent_bit", p.read_bytes())
    for p in stepfn:
        for line in p.read_bytes().splitlines()[:20]:
            if line.strip().startswith(b"{"):
                put("fluent_bit", line)
    for p in files("host-examples/component/tests/cases.json"):
        for seq in json.loads(p.read_text()).get("log_records", []):
            for record in seq["records"]:
                put("fluent_bit", record.encode())
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {sum(1 for _ in d.iterdir())} seeds")


if __name__ == "__main__":
    main()
