"""dist/relink-fluent-bit.wasm in a real Fluent Bit 5.1.1, through the shipped
fluent-bit.conf and fluent-bit.yaml unchanged (only their environment variables set).

What the filter must produce comes from outside the module: ids converted from the X-Ray
headers by hand (the X-Ray trace id format), Step Functions ids from the native core
(`dist/relink event`), whole records from relink's component (the core; checked against
the native core by host-examples/component/tests), golden exports from tests/golden/relink (the native
core's output), and pass-through bytes from the same pipeline run without the filter.

Run: .venv/bin/python -m pytest -q host-examples/fluent-bit/tests (build.sh test does),
after host-examples/fluent-bit/build-fluent-bit.sh and ./build.sh.
"""

import json
import pathlib
import socket
import time

import pytest

from fluentbit_host import (
    CONFIGS,
    EXAMPLE,
    ROOT,
    Core,
    FluentBit,
    Sink,
    cli,
    copy_config,
    fluent_bit_binary,
    free_port,
    stdout_record,
    without_filter,
)

FORMS = sorted(CONFIGS)
GOLDEN = ROOT / "tests" / "golden" / "relink"
# The golden harness's clock: batch N of a case is processed at BASE_NOW + N seconds.
BASE_NOW = 1_709_929_300_000_000_000
STEPFN = ROOT / "tests" / "golden" / "stepfn"
# Real Express workflow log lines (aws-samples) and Standard ones (a retried task).
STEPFN_EXPRESS = (
    ROOT
    / "tests/fixtures/stepfunctions/aws-samples-masking-sensitive-express-step-functions"
    / "express-execution-log-messages.ndjson"
)
STEPFN_STANDARD = STEPFN / "hand-task-retries-logs" / "input.logs.ndjson"

REQUEST = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
# Lambda log lines as they reach a log file: the Telemetry API `platform.start` of a
# request (AWS's documented example), then the function's own lines of that request in
# the runtimes' formats, a REPORT line, Powertools and `_X_AMZN_TRACE_ID` JSON records.
LAMBDA_LINES = [
    '{"time":"2022-10-12T00:00:15.064Z","type":"platform.start","record":{"requestId":"'
    + REQUEST
    + '","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id",'
    '"value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}}',
    '{"timestamp":"2022-10-12T00:00:15.100Z","level":"INFO","requestId":"' + REQUEST + '","message":"hi"}',
    "2022-10-12T00:00:15.200Z\t" + REQUEST + "\tINFO\tNode runtime line",
    "[INFO]\t2022-10-12T00:00:15.300Z\t" + REQUEST + "\tPython runtime line",
    "END RequestId: " + REQUEST,
    "REPORT RequestId: 8fc6f963-411b-58b5-8483-a32130c0f45d\tDuration: 201.67 ms\t"
    "Billed Duration: 202 ms\tMemory Size: 2048 MB\tMax Memory Used: 81 MB\t"
    "XRAY TraceId: 1-61c86fa4-59b3c6d959653c527fd10966\tSegmentId: 107ea78a5750a811\tSampled: true\t",
    '{"level":"INFO","location":"collect_payment:29","message":"Collecting payment",'
    '"timestamp":"2021-05-03 11:47:12,494+0200","service":"payment","cold_start":true,'
    '"function_name":"test","function_memory_size":128,'
    '"function_arn":"arn:aws:lambda:eu-west-1:12345678910:function:test",'
    '"function_request_id":"52fdfc07-2182-154f-163f-5f0f9a621d72",'
    '"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793"}',
    '{"level":"INFO","message":"env","_X_AMZN_TRACE_ID":'
    '"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}',
]
# Records without evidence: each must leave the filter as Fluent Bit alone passes it.
PLAIN_LINES = [
    '{"level":"INFO","message":"no trace here","count":3,"ratio":0.25,"ok":false,"none":null}',
    "a plain text line with \"quotes\", a backslash \\ and unicode: \u00e9\u4e2d",
    '{"nested":{"a":[1,2,{"b":"c"}],"e":{}},"s":"\\u00e9\\n\\t"}',
    '{"requestId":"00000000-0000-0000-0000-000000000000","message":"a request nobody stated"}',
    '{"trace_id":"0af7651916cd43dd8448eb211c80319c","requestId":"' + REQUEST + '","message":"has ids"}',
    '{"message":"Root=1-zz-bad;Parent=53995c3f42cd8ad8"}',
]


def xray_to_w3c(root):
    """`1-5759e988-bd862e3fe1be46a994272793` -> the 32 hex digits of the W3C trace id (the
    X-Ray trace id is its epoch seconds, 8 hex digits, then 24 hex digits)."""
    version, epoch, unique = root.split("-")
    assert version == "1" and len(epoch) == 8 and len(unique) == 24
    return epoch + unique


# What the filter must add to LAMBDA_LINES, computed from the headers above by hand.
LAMBDA_IDS = [
    (xray_to_w3c("1-62e900b2-710d76f009d6e7785905449a"), "54565fb41ac79632"),
    (xray_to_w3c("1-62e900b2-710d76f009d6e7785905449a"), "54565fb41ac79632"),
    (xray_to_w3c("1-62e900b2-710d76f009d6e7785905449a"), "54565fb41ac79632"),
    (xray_to_w3c("1-62e900b2-710d76f009d6e7785905449a"), "54565fb41ac79632"),
    (xray_to_w3c("1-62e900b2-710d76f009d6e7785905449a"), "54565fb41ac79632"),
    (xray_to_w3c("1-61c86fa4-59b3c6d959653c527fd10966"), "107ea78a5750a811"),
    (xray_to_w3c("1-5759e988-bd862e3fe1be46a994272793"), None),
    (xray_to_w3c("1-5759e988-bd862e3fe1be46a994272793"), "53995c3f42cd8ad8"),
]


def stepfn_lines():
    return [
        l for p in (STEPFN_STANDARD, STEPFN_EXPRESS) for l in p.read_text().splitlines() if l.strip()
    ]


def all_lines():
    return LAMBDA_LINES + PLAIN_LINES + stepfn_lines()


def run_logs(config, workdir, lines, relink_json=None, timeout=60.0):
    """Starts Fluent Bit on an empty log file, appends `lines`, and returns the stdout
    output's records (without `date`) and the module's stderr lines."""
    workdir = pathlib.Path(workdir)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / "function.log"
    log.write_text("")
    if relink_json is not None:
        copy_config(relink_json, workdir)
    with Sink() as sink, FluentBit(
        config, workdir, free_port(), sink.port, logs / "*.log"
    ) as fb:
        with log.open("a") as f:
            for line in lines:
                f.write(line + "\n")
        got = fb.wait_stdout(len(lines), timeout=timeout)
        fb.stop()
        relink = fb.relink_lines()
    assert len(got) == len(lines), f"{len(got)} of {len(lines)} records came out:\n" + "\n".join(
        fb.stderr[-30:]
    )
    return [stdout_record(l) for l in got], relink


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The stdout records of the .conf pipeline without the filter: every line as Fluent
    Bit alone serialises it."""
    fluent_bit_binary()
    work = tmp_path_factory.mktemp("baseline")
    records, _ = run_logs(without_filter(CONFIGS["conf"], work), work, all_lines())
    return records


@pytest.mark.parametrize("form", FORMS)
def test_log_records_get_the_ids_the_core_gives_and_others_pass_byte_for_byte(form, tmp_path, baseline):
    lines = all_lines()
    records, relink = run_logs(CONFIGS[form], tmp_path, lines, relink_json=EXAMPLE / "relink.json")
    assert relink == [], relink

    # Whole records: what the core makes of the record the filter was handed (Fluent Bit's
    # serialisation, the baseline), in order on one processor (request ids are remembered).
    core = Core((EXAMPLE / "relink.json").read_text())
    expected = [core.process_log(r) for r in baseline]
    for n, (got, want) in enumerate(zip(records, expected)):
        assert got == want, f"line {n + 1}: {lines[n]!r}"

    # Lambda records: the ids from their X-Ray headers.
    for n, (trace, span) in enumerate(LAMBDA_IDS):
        record = json.loads(records[n])
        assert (record.get("trace_id"), record.get("span_id")) == (trace, span), lines[n]

    # No evidence: byte for byte what Fluent Bit alone outputs.
    first = len(LAMBDA_LINES)
    for n in range(first, first + len(PLAIN_LINES)):
        assert records[n] == baseline[n], lines[n]

    # Step Functions: every line gets the trace of its execution and a span the native
    # core builds for it (`relink event`): a *StateEntered line its state's span, any
    # other line the execution span.
    offset = first + len(PLAIN_LINES)
    for path in (STEPFN_STANDARD, STEPFN_EXPRESS):
        source = [l for l in path.read_text().splitlines() if l.strip()]
        spans = [
            s
            for rs in json.loads(cli("event", str(path)))["resourceSpans"]
            for ss in rs["scopeSpans"]
            for s in ss["spans"]
        ]
        traces = {s["traceId"] for s in spans}
        assert len(traces) == 1, traces
        by_id = {s["spanId"]: s for s in spans}
        roots = [s for s in spans if not s.get("parentSpanId") or s["parentSpanId"] not in by_id]
        assert len(roots) == 1, [s["name"] for s in roots]
        for n, line in enumerate(source):
            record = json.loads(records[offset + n])
            assert record["trace_id"] == next(iter(traces)), line
            event = json.loads(line)
            span = by_id.get(record["span_id"])
            assert span is not None, f"{path.name}:{n + 1}: no span {record['span_id']}"
            if event["type"].endswith("StateEntered"):
                assert event["details"]["name"] in span["name"], (span["name"], line)
            else:
                assert span is roots[0], (span["name"], line)
        offset += len(source)
    assert offset == len(records)


def golden_cases():
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "config.json").exists())


def batches(case):
    out = []
    for n in range(1, 100):
        path = GOLDEN / case / f"input-{n}.json"
        if path.exists():
            out.append((n, path.read_bytes()))
    return out


def comparable(body):
    """A body as a value two serialisers agree on: parsed JSON, or the bytes."""
    try:
        return json.dumps(json.loads(body), sort_keys=True)
    except ValueError:
        return body.decode("latin-1")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", golden_cases())
def test_golden_exports_through_in_opentelemetry_and_out_http(form, case, tmp_path):
    """Every OTLP/JSON export of a golden case, in order, into in_opentelemetry
    (raw_traces), through the filter, out of out_http into a sink: what the core makes of
    them, nothing lost. A case's raw AWS events (`event-N.*`) have no way into a filter
    and are left out on both sides; where a case has none, the core's output is the
    golden file, which the native core writes."""
    config = (GOLDEN / case / "config.json").read_text()
    core = Core(config)
    has_events = any(p.name.startswith("event-") for p in (GOLDEN / case).iterdir())
    expected = {}
    for n, body in batches(case):
        out = core.process_traces(body, BASE_NOW + n * 1_000_000_000)
        if not has_events:
            golden = (GOLDEN / case / f"expected-{n}.json").read_bytes()
            assert comparable(out) == comparable(golden), f"component vs native, {case} batch {n}"
        expected[n] = out
    (tmp_path / "logs").mkdir()
    copy_config(config, tmp_path)
    with Sink() as sink, FluentBit(
        CONFIGS[form], tmp_path, free_port(), sink.port, tmp_path / "logs" / "*.log"
    ) as fb:
        accepted = []
        for n, body in batches(case):
            status = fb.post_traces(body)
            if status in (200, 201):
                accepted.append(n)
            else:
                # in_opentelemetry refuses a JSON body that is no object (400): the sender
                # is told, nothing is silently dropped.
                assert status == 400 and not body.lstrip().startswith(b"{"), (n, status)
        received = sink.wait_for(len(accepted), timeout=30.0, path="/v1/traces")
        fb.stop()
        received = list(sink.requests)
        stderr = fb.stderr
    assert len(received) == len(accepted), (
        f"{len(received)} requests for {len(accepted)} exports:\n" + "\n".join(stderr[-20:])
    )
    assert all(r[2].get("Content-Type") == "application/json" for r in received)
    assert sorted(comparable(r[3]) for r in received) == sorted(
        comparable(expected[n]) for n in accepted
    )


def append_output(config, workdir, port):
    """The shipped config plus the out_opentelemetry output the README describes."""
    text = config.read_text().replace(
        "parsers-lambda.conf}", f"{EXAMPLE / 'parsers-lambda.conf'}}}"
    )
    if config.suffix == ".conf":
        text += (
            "\n[OUTPUT]\n    Name                       opentelemetry\n"
            "    Match                      lambda.*\n    Host                       127.0.0.1\n"
            f"    Port                       {port}\n"
            "    Logs_Trace_Id_Message_Key  $trace_id\n"
            "    Logs_Span_Id_Message_Key   $span_id\n"
        )
    else:
        text += (
            "    - name: opentelemetry\n      match: lambda.*\n      host: 127.0.0.1\n"
            f"      port: {port}\n"
            "      logs_trace_id_message_key: $trace_id\n"
            "      logs_span_id_message_key: $span_id\n"
        )
    path = pathlib.Path(workdir) / ("otel" + config.suffix)
    path.write_text(text)
    return path


@pytest.mark.parametrize("form", FORMS)
def test_out_opentelemetry_puts_the_ids_on_otlp_log_records(form, tmp_path):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    lines = LAMBDA_LINES + PLAIN_LINES[:1]
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "function.log"
    log.write_text("")
    with Sink() as sink:
        config = append_output(CONFIGS[form], tmp_path, sink.port)
        with FluentBit(config, tmp_path, free_port(), sink.port, logs / "*.log") as fb:
            with log.open("a") as f:
                f.write("".join(l + "\n" for l in lines))
            fb.wait_stdout(len(lines))
            deadline_records = []
            for _ in range(60):
                got = sink.wait_for(1, timeout=1.0, path="/v1/logs")
                deadline_records = [
                    r
                    for req in got
                    for rl in ExportLogsServiceRequest.FromString(req[3]).resource_logs
                    for sl in rl.scope_logs
                    for r in sl.log_records
                ]
                if len(deadline_records) >= len(lines):
                    break
            fb.stop()
    records = deadline_records
    assert len(records) == len(lines), "\n".join(fb.stderr[-20:])
    for n, (trace, span) in enumerate(LAMBDA_IDS):
        assert records[n].trace_id.hex() == trace, lines[n]
        assert records[n].span_id.hex() == (span or ""), lines[n]
    assert records[-1].trace_id == b"" and records[-1].span_id == b""


@pytest.mark.parametrize("form", FORMS)
def test_an_invalid_relink_json_passes_every_record_and_prints_one_error(form, tmp_path, baseline):
    """Every record comes out as Fluent Bit alone writes it (the .conf pipeline without
    the filter: the YAML form is the same pipeline), an export reaches the sink as it was
    sent, and the module prints one line."""
    lines = all_lines()
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "function.log"
    log.write_text("")
    copy_config('{"bogus": true, "index": {"max_entries": 0}}', tmp_path)
    export = (GOLDEN / "s3-put-then-notify" / "input-1.json").read_bytes()
    with Sink() as sink, FluentBit(CONFIGS[form], tmp_path, free_port(), sink.port, logs / "*.log") as fb:
        with log.open("a") as f:
            f.write("".join(l + "\n" for l in lines))
        assert fb.post_traces(export) in (200, 201)
        got = fb.wait_stdout(len(lines))
        received = sink.wait_for(1, timeout=30.0, path="/v1/traces")
        fb.stop()
        relink = fb.relink_lines()
    assert [stdout_record(l) for l in got] == baseline
    assert len(received) == 1, "\n".join(fb.stderr[-20:])
    assert comparable(received[0][3]) == comparable(export)
    assert len(relink) == 1, relink
    assert relink[0].startswith("relink: relink.json: config: "), relink[0]
    assert "unknown field `bogus`" in relink[0] and relink[0].endswith(
        "records pass through unchanged"
    ), relink[0]


def test_accessible_paths_show_a_directory_under_its_own_path(tmp_path):
    """README (Configuration): the module sees an Accessible_Paths directory under its host
    path, so relink.json in some other directory is not /etc/relink/relink.json to it: an
    invalid file there is never read (no error line) and the defaults apply."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy_config('{"bogus": true}', elsewhere)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "function.log"
    log.write_text("")
    lines = LAMBDA_LINES[:2]
    with Sink() as sink, FluentBit(
        CONFIGS["conf"], tmp_path, free_port(), sink.port, logs / "*.log", config_dir=elsewhere
    ) as fb:
        with log.open("a") as f:
            f.write("".join(l + "\n" for l in lines))
        got = fb.wait_stdout(len(lines))
        fb.stop()
        relink = fb.relink_lines()
    assert relink == []
    assert [json.loads(stdout_record(l)).get("trace_id") for l in got] == [
        LAMBDA_IDS[0][0],
        LAMBDA_IDS[1][0],
    ]


def test_without_wasm_stack_size_exports_overflow_the_stack_and_are_dropped(tmp_path):
    """README (Limits): with WAMR's default 8 KiB interpreter stack (the shipped config
    without its Wasm_Stack_Size line) small log records are still filtered, but an OTLP
    export or a deeply nested record overflows the operand stack: Fluent Bit logs the trap
    and drops the record."""
    text = CONFIGS["conf"].read_text()
    assert "    Wasm_Stack_Size   1M\n" in text
    text = text.replace("    Wasm_Stack_Size   1M\n", "").replace(
        "parsers-lambda.conf}", f"{EXAMPLE / 'parsers-lambda.conf'}}}"
    )
    config = tmp_path / "default-stack.conf"
    config.write_text(text)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "function.log"
    log.write_text("")
    nested = json.dumps({"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})
    export = (GOLDEN / "s3-put-then-notify" / "input-1.json").read_bytes()
    with Sink() as sink, FluentBit(config, tmp_path, free_port(), sink.port, logs / "*.log") as fb:
        assert fb.post_traces(export) in (200, 201)
        with log.open("a") as f:
            f.write(LAMBDA_LINES[0] + "\n" + nested + "\n" + PLAIN_LINES[0] + "\n")
        got = fb.wait_stdout(2, timeout=15.0)
        fb.stop()
    records = [json.loads(stdout_record(l)) for l in got]
    # The platform.start record got its ids; the nested one is gone; the plain one passed.
    assert [(r.get("type"), r.get("trace_id")) for r in records] == [
        ("platform.start", LAMBDA_IDS[0][0]),
        (None, None),
    ], got
    assert records[1]["message"] == "no trace here"
    assert sink.requests == []
    overflows = [l for l in fb.stderr if "wasm operand stack overflow" in l]
    assert len(overflows) == 2, "\n".join(fb.stderr[-20:])


def test_protobuf_exports_never_reach_out_http(tmp_path):
    """README (Limits): in_opentelemetry routes an OTLP/HTTP protobuf export to its traces
    pipeline, which the filter and out_http never see. A protobuf export, then a JSON one:
    only the JSON one reaches the sink."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "checkout"
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "test"
    span = scope_spans.spans.add()
    span.trace_id = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    span.span_id = bytes.fromhex("eee19b7ec3c1b174")
    span.name = "protobuf"
    span.kind = span.SPAN_KIND_SERVER
    span.start_time_unix_nano = 1_709_929_300_000_000_000
    span.end_time_unix_nano = 1_709_929_301_000_000_000
    export = (GOLDEN / "pass-through" / "input-1.json").read_bytes()
    (tmp_path / "logs").mkdir()
    with Sink() as sink, FluentBit(
        CONFIGS["conf"], tmp_path, free_port(), sink.port, tmp_path / "logs" / "*.log"
    ) as fb:
        assert fb.post_traces(request.SerializeToString(), "application/x-protobuf") in (200, 201)
        assert fb.post_traces(export) in (200, 201)
        sink.wait_for(1, timeout=30.0, path="/v1/traces")
        fb.stop()
    assert len(sink.requests) == 1, "\n".join(fb.stderr[-20:])
    assert b"protobuf" not in sink.requests[0][3]


def test_non_finite_numbers_in_otlp_logs_neither_drop_records_nor_crash_fluent_bit(tmp_path):
    """An OTLP/protobuf log export with a NaN and an infinite body: Fluent Bit's record
    JSON writes them bare (`nan`, `inf`), which is not JSON; handed back as they were,
    Fluent Bit 5.1.1 dropped the record and then aborted on a double free. relink gives it
    `null` instead, and every record goes on."""
    import urllib.request

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    bodies = [AnyValue(string_value="normal"), AnyValue(double_value=float("nan")),
              AnyValue(double_value=float("inf")), AnyValue(string_value="after")]
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(
        log_records=[LogRecord(body=b) for b in bodies])])])
    logs = tmp_path / "logs"
    logs.mkdir()
    # The shipped config, and OTLP log records on stdout too to see them.
    config = tmp_path / "logs-out.conf"
    config.write_text(
        CONFIGS["conf"].read_text().replace("parsers-lambda.conf}", f"{EXAMPLE / 'parsers-lambda.conf'}}}")
        + "\n[OUTPUT]\n    Name   stdout\n    Match  v1_logs\n    Format json_lines\n"
    )
    with Sink() as sink, FluentBit(config, tmp_path, free_port(), sink.port, logs / "*.log") as fb:
        post = urllib.request.Request(
            f"http://127.0.0.1:{fb.otlp_port}/v1/logs", data=request.SerializeToString(),
            method="POST", headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(post, timeout=10) as response:
            assert response.status in (200, 201)
        out = fb.wait_stdout(len(bodies), timeout=20)
        alive = fb.proc.poll() is None
    assert alive, "\n".join(fb.stderr[-20:])
    records = [json.loads(line) for line in out]
    assert len(records) == len(bodies), "\n".join(out + fb.stderr[-20:])
    text = json.dumps(records)
    assert "normal" in text and "after" in text, text
    assert not any("invalid JSON" in l for l in fb.stderr), "\n".join(fb.stderr[-20:])


@pytest.mark.parametrize("threaded", [True, False])
def test_forward_input_needs_threaded_on(threaded, tmp_path):
    """README (Limits): Fluent Bit 5.1.1 runs in_forward's connection callbacks in a
    coroutine, where WAMR's native stack check fails on every call into a wasm module, and
    each record is dropped; with `Threaded on` the forward input's records get their ids.
    The shipped config with a forward input on a unix socket (as ECS FireLens uses), and
    Forward-mode messages with EventTime timestamps, as the fluentd protocol v1 sends."""
    import msgpack

    sock = tmp_path / "forward.sock"
    config = tmp_path / "forward.conf"
    config.write_text(
        CONFIGS["conf"].read_text().replace("parsers-lambda.conf}", f"{EXAMPLE / 'parsers-lambda.conf'}}}")
        + f"\n[INPUT]\n    Name       forward\n    Unix_Path  {sock}\n"
        + ("    Threaded   on\n" if threaded else "")
    )
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    records = [
        {"level": "INFO", "message": f"forwarded {i}", "_X_AMZN_TRACE_ID": header} for i in range(3)
    ]
    event_time = lambda i: msgpack.ExtType(0, (1_700_000_000 + i).to_bytes(4, "big") + (i * 1000).to_bytes(4, "big"))
    message = msgpack.packb(["lambda.forward", [[event_time(i), r] for i, r in enumerate(records)]])
    (tmp_path / "logs").mkdir()
    with Sink() as sink, FluentBit(config, tmp_path, free_port(), sink.port, tmp_path / "logs" / "*.log") as fb:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(sock))
            client.sendall(message)
        out = fb.wait_stdout(len(records), timeout=10 if threaded else 5)
        fb.stop()
    overflows = [l for l in fb.stderr if "native stack overflow" in l]
    if threaded:
        got = [json.loads(stdout_record(l)) for l in out]
        assert [r["message"] for r in got] == [r["message"] for r in records], "\n".join(fb.stderr[-20:])
        # The EventTime of each record, to the microsecond json_lines prints.
        assert [json.loads(l)["date"] for l in out] == [1_700_000_000 + i + i * 1e-6 for i in range(3)]
        assert all(
            (r["trace_id"], r["span_id"]) == (xray_to_w3c("1-5759e988-bd862e3fe1be46a994272793"), "53995c3f42cd8ad8")
            for r in got
        ), got
        assert not overflows
    else:
        assert out == [] and len(overflows) == len(records), "\n".join(out + fb.stderr[-20:])
