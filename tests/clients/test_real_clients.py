"""Real clients end to end: boto3 + OpenTelemetry Python SDK against moto, the payloads
moto delivered handed to an instrumented Lambda handler, the spans written as OTLP, run
through `relink process`, and the output decoded with opentelemetry-proto.

The first group checks the scenario itself (what the instrumentation and hooks
recorded, and that both sides name the same pointer); the second checks relink's output
and needs target/release/relink (`cargo build --release -p relink-cli`).
"""

import json
import subprocess
import types
import urllib.parse
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

import otlp_files
from conftest import RELINK
from pointers import dynamodb_pointer, pointer_hash, s3_pointer

LAMBDA_SCOPE = "opentelemetry.instrumentation.aws_lambda"
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
ZERO_TRACE, ZERO_SPAN = bytes(16), bytes(8)


# -- pointers as each side states them -------------------------------------------


def producer_pointers(request):
    """{pointer hash: producer Span} from the client spans' attributes (hooks + native)."""
    found = {}
    for _resource, _scope, span in otlp_files.spans(request):
        attrs = otlp_files.attributes(span.attributes)
        if "relink.s3.etag" in attrs:
            found[s3_pointer(attrs["aws.s3.bucket"], attrs["aws.s3.key"], attrs["relink.s3.etag"])] = span
        if "relink.dynamodb.keys" in attrs:
            (table,) = attrs["aws.dynamodb.table_names"]
            found[dynamodb_pointer(table, json.loads(attrs["relink.dynamodb.keys"]))] = span
    return found


def event_pointers(event):
    """Pointer hashes of every record of a trigger event."""
    hashes = []
    for record in event["Records"]:
        if record.get("eventSource") == "aws:s3":
            obj = record["s3"]["object"]
            key = urllib.parse.unquote_plus(obj["key"])
            hashes.append(s3_pointer(record["s3"]["bucket"]["name"], key, obj["eTag"]))
        elif record.get("eventSource") == "aws:dynamodb":
            table = record["eventSourceARN"].split(":table/", 1)[1].split("/", 1)[0]
            hashes.append(dynamodb_pointer(table, record["dynamodb"]["Keys"]))
    return hashes


def invocations(request):
    """[(Span, event dict)] for every Lambda invocation span that carries its event."""
    out = []
    for _resource, scope, span in otlp_files.spans(request):
        attrs = otlp_files.attributes(span.attributes)
        if scope == LAMBDA_SCOPE and span.kind == PbSpan.SPAN_KIND_SERVER and "relink.event" in attrs:
            out.append((span, json.loads(attrs["relink.event"])))
    return out


# -- the scenario itself ---------------------------------------------------------


def test_moto_delivered_every_write(scenario):
    s3_events = [r["eventName"] for e in scenario.s3.events for r in e["Records"]]
    # moto also announces a completed multipart upload as ObjectCreated:Put.
    assert sorted(s3_events) == sorted([
        "ObjectCreated:Put", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Put"])
    (stream_event,) = scenario.dynamodb.events
    keys = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in stream_event["Records"]]
    # moto writes an upsert (UpdateItem on a new key) as two INSERT records.
    assert keys == [("INSERT", "order#1"), ("INSERT", "order#2"), ("INSERT", "order#2"), ("REMOVE", "order#3")]


def test_s3_notification_keys_are_url_encoded(scenario):
    keys = {r["s3"]["object"]["key"] for e in scenario.s3.events for r in e["Records"]}
    assert keys == {"dir%2Fmy+file.txt", "copies%2Freport+1.txt", "big%2Fpart.bin"}


def test_every_consumer_invocation_carries_its_trigger_event(scenario):
    delivered = scenario.s3.events + scenario.dynamodb.events
    carried = [event for _span, event in invocations(scenario.request)]
    assert sorted(map(json.dumps, carried)) == sorted(map(json.dumps, delivered))


def test_each_record_names_a_pointer_one_producer_span_wrote(scenario):
    producers = producer_pointers(scenario.request)
    names = {}
    for span, event in invocations(scenario.request):
        for pointer in event_pointers(event):
            assert pointer in producers, f"no producer span for pointer {pointer} of {event}"
            names.setdefault(span.name, set()).add(producers[pointer].name)
    assert names == {"processor": {
        "S3.PutObject", "S3.CopyObject", "S3.CompleteMultipartUpload",
        "DynamoDB.PutItem", "DynamoDB.UpdateItem", "DynamoDB.DeleteItem",
    }}


def test_producer_and_consumer_traces_start_apart(scenario):
    spans = otlp_files.spans(scenario.request)
    producer_traces = {s.trace_id for r, _, s in spans if r["service.name"] == "uploader"}
    consumer_traces = {s.trace_id for r, _, s in spans if r["service.name"] == "processor"}
    assert len(producer_traces) == 2  # POST /upload and POST /orders
    assert len(consumer_traces) == 5  # one per invocation
    assert not producer_traces & consumer_traces
    assert all(not s.links for _, _, s in spans)


def test_otlp_json_and_protobuf_files_hold_the_same_request(scenario):
    from_json = otlp_files.decode(scenario.json_path.read_bytes())
    from_pb = otlp_files.decode(scenario.pb_path.read_bytes())
    assert from_json == from_pb == scenario.request


# -- through relink --------------------------------------------------------------

requires_relink = pytest.mark.usefixtures("relink_bin")


def run_relink(scenario, tmp_path, config=None, source="json_path"):
    out = tmp_path / "out.otlp"
    command = [str(RELINK), "process", "--in", str(getattr(scenario, source)), "--out", str(out)]
    if config is not None:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        command += ["--config", str(config_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return otlp_files.decode(out.read_bytes())


def by_id(request):
    return {(s.trace_id, s.span_id): s for _r, _scope, s in otlp_files.spans(request)}


def relinked_pairs(scenario, output):
    """[(producer Span in output, consumer Span in output)] for every record's pointer."""
    producers = producer_pointers(scenario.request)
    spans = by_id(output)
    pairs = []
    for consumer, event in invocations(scenario.request):
        for pointer in event_pointers(event):
            producer = producers[pointer]
            pairs.append((pointer, spans[(producer.trace_id, producer.span_id)], consumer))
    return pairs


def pointer_kind(producer):
    return "aws.s3.object" if producer.name.startswith("S3.") else "aws.dynamodb.item"


@requires_relink
@pytest.mark.parametrize("source", ["json_path", "pb_path"])
def test_relink_links_every_consumer_to_its_producer(scenario, tmp_path, source):
    output = run_relink(scenario, tmp_path, source=source)
    spans = by_id(output)
    assert len(spans) == len(by_id(scenario.request))  # nothing dropped, ids unchanged
    for pointer, producer, consumer in relinked_pairs(scenario, output):
        out_consumer = spans[(consumer.trace_id, consumer.span_id)]
        links = [otlp_files.attributes(l.attributes) for l in out_consumer.links
                 if (l.trace_id, l.span_id) == (producer.trace_id, producer.span_id)]
        assert links == [{"relink.rule": pointer_kind(producer), "relink.match": "exact",
                          "relink.key": pointer, "relink.peer": "producer"}], (consumer.name, producer.name)
        why = otlp_files.attributes(out_consumer.attributes)
        assert pointer_kind(producer) in why["relink.rules"]
        assert pointer in why["relink.pointer.hashes"]
        assert why["relink.matches"] == ["exact"]


@requires_relink
def test_relink_writes_datadog_pointer_links_on_both_sides(scenario, tmp_path):
    output = run_relink(scenario, tmp_path)
    spans = by_id(output)

    def pointer_links(span):
        return {(a.get("ptr.kind"), a.get("ptr.dir"), a.get("ptr.hash"))
                for a in (otlp_files.attributes(l.attributes) for l in span.links)
                if a.get("link.kind") == "span-pointer"}

    for pointer, producer, consumer in relinked_pairs(scenario, output):
        kind = pointer_kind(producer)
        assert (kind, "d", pointer) in pointer_links(producer)
        assert (kind, "u", pointer) in pointer_links(spans[(consumer.trace_id, consumer.span_id)])
    for span in spans.values():
        for link in span.links:
            if otlp_files.attributes(link.attributes).get("link.kind") == "span-pointer":
                assert (link.trace_id, link.span_id) == (ZERO_TRACE, ZERO_SPAN)


@requires_relink
def test_relink_removes_the_raw_event_by_default(scenario, tmp_path):
    output = run_relink(scenario, tmp_path)
    for _r, _scope, span in otlp_files.spans(output):
        assert "relink.event" not in otlp_files.attributes(span.attributes)


@requires_relink
def test_relink_without_adoption_keeps_the_traces_apart(scenario, tmp_path):
    output = run_relink(scenario, tmp_path)
    before = {(s.trace_id, s.span_id, s.parent_span_id) for _r, _sc, s in otlp_files.spans(scenario.request)}
    after = {(s.trace_id, s.span_id, s.parent_span_id) for _r, _sc, s in otlp_files.spans(output)}
    assert before == after


@requires_relink
def test_relink_adoption_puts_producer_and_consumer_in_one_trace(scenario, tmp_path):
    output = run_relink(scenario, tmp_path, config={"adoption": {"enabled": True}})
    by_span = {s.span_id: s for _r, _scope, s in otlp_files.spans(output)}
    producers_of = {}
    for _pointer, producer, consumer in relinked_pairs(scenario, output):
        producers_of.setdefault(consumer.span_id, (consumer, set()))[1].add((producer.trace_id, producer.span_id))
    assert len(producers_of) == 5
    for consumer_span_id, (before, producers) in producers_of.items():
        after = by_span[consumer_span_id]
        # The consumer root now sits under one of the spans that wrote what triggered it.
        assert (after.trace_id, after.parent_span_id) in producers
        why = otlp_files.attributes(after.attributes)
        assert why["relink.original_trace_id"] == before.trace_id.hex()
        assert "adoption" in why["relink.rules"]
        back = [l for l in after.links if otlp_files.attributes(l.attributes).get("relink.rule") == "adoption"]
        assert [(l.trace_id, l.span_id) for l in back] == [(before.trace_id, before.span_id)]
    # Producer spans keep their ids; the output holds two traces, one per producer request.
    traces = {s.trace_id for s in by_span.values()}
    assert len(traces) == 2


@requires_relink
def test_a_string_cut_mid_character_is_repaired_and_the_batch_still_relinked(scenario, tmp_path):
    # The SDK's batch with one resource string cut inside a character, as byte-truncating
    # SDKs leave it: Python's protobuf runtime (a strict one, as many backends are) refuses
    # it whole; relink writes it with U+FFFD there and relinks it as the clean batch.
    clean = scenario.pb_path.read_bytes()
    assert clean.count(b"uploader") >= 1
    cut = clean.replace(b"uploader", b"uploade\xc3")
    with pytest.raises(Exception, match="(?i)utf-8|utf8|parse"):
        otlp_files.decode(cut)
    source = tmp_path / "cut.pb"
    source.write_bytes(cut)
    out = tmp_path / "out.pb"
    done = subprocess.run([str(RELINK), "process", "--in", str(source), "--out", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "U+FFFD" in done.stderr
    output = otlp_files.decode(out.read_bytes())
    services = {r["service.name"] for r, _scope, _span in otlp_files.spans(output)}
    assert services == {"uploade\ufffd", "processor"}
    expected = run_relink(scenario, tmp_path, source="pb_path")
    links = lambda request: sorted((s.span_id, [(l.trace_id, l.span_id) for l in s.links])
                                   for _r, _sc, s in otlp_files.spans(request))
    assert links(output) == links(expected)


# -- Lambda calling Lambda ------------------------------------------------------


@pytest.fixture(scope="module")
def invoke_scenario(moto_endpoint, telemetry, tmp_path_factory):
    """Two `Invoke` calls (asynchronous and synchronous) and the invocations they made:
    (request ids, OTLP file, request)."""
    import aws_scenario

    telemetry.clear()
    ids = aws_scenario.invoke_flow(moto_endpoint, telemetry)
    request = otlp_files.encode(telemetry.finished())
    path = tmp_path_factory.mktemp("invoke") / "spans.pb"
    path.write_bytes(request.SerializeToString())
    return ids, path, request


def test_both_sides_of_an_invoke_record_its_request_id(invoke_scenario):
    # The facts the join needs, as the real instrumentations write them: botocore's
    # client span, aws-lambda's invocation span.
    ids, _path, request = invoke_scenario
    calls, invoked = {}, {}
    for _r, scope, span in otlp_files.spans(request):
        attrs = otlp_files.attributes(span.attributes)
        if attrs.get("rpc.service") == "Lambda" and attrs.get("rpc.method") == "Invoke":
            calls[attrs["aws.request_id"]] = span
        if scope == LAMBDA_SCOPE:
            invoked[attrs["faas.invocation_id"]] = span
    assert sorted(calls) == sorted(ids) == sorted(invoked)
    for rid in ids:  # nothing carried the caller's context over: two traces each
        assert calls[rid].trace_id != invoked[rid].trace_id
        assert invoked[rid].parent_span_id == b""


@requires_relink
@pytest.mark.parametrize("adoption", [False, True])
def test_each_invocation_is_joined_to_the_invoke_call_that_made_it(invoke_scenario, tmp_path, adoption):
    ids, path, request = invoke_scenario
    output = run_relink(types.SimpleNamespace(pb_path=path), tmp_path,
                        config={"adoption": {"enabled": adoption}}, source="pb_path")
    before, after = by_id(request), {s.span_id: s for _r, _sc, s in otlp_files.spans(output)}
    call_of = {otlp_files.attributes(s.attributes).get("aws.request_id"): s for s in before.values()}
    joined = 0
    for span in before.values():
        rid = otlp_files.attributes(span.attributes).get("faas.invocation_id")
        if rid is None:
            continue
        call, out = call_of[rid], after[span.span_id]
        links = [(l.trace_id, l.span_id, otlp_files.attributes(l.attributes)) for l in out.links]
        # The key is the pointer hash of the rule and the id, as for every id join.
        assert (call.trace_id, call.span_id, {
            "relink.rule": "aws.lambda.invocation", "relink.match": "request-id",
            "relink.key": pointer_hash("aws.lambda.invocation", rid), "relink.peer": "producer",
        }) in links
        if adoption:  # the invocation's trace now hangs under the call
            assert (out.trace_id, out.parent_span_id) == (call.trace_id, call.span_id)
        else:
            assert (out.trace_id, out.parent_span_id) == (span.trace_id, span.parent_span_id)
        joined += 1
    assert joined == len(ids) == 2


# -- Lambda destinations --------------------------------------------------------


@pytest.fixture(scope="module")
def destination_scenario(moto_endpoint, telemetry, tmp_path_factory):
    """An asynchronous Invoke, its invocation, the consumer of its `OnSuccess` record on an
    SQS queue and the consumer of its dead letter: (request id, OTLP file, request)."""
    import aws_scenario

    telemetry.clear()
    record = json.loads((FIXTURES / "aws-lambda-java-libs/lambda_destination_event.json").read_text())
    request_id, on_success, dead = aws_scenario.destination_flow(moto_endpoint, telemetry, record)
    assert json.loads(on_success["Records"][0]["body"])["requestContext"]["requestId"] == request_id
    assert dead["Records"][0]["messageAttributes"]["RequestID"]["stringValue"] == request_id
    request = otlp_files.encode(telemetry.finished())
    path = tmp_path_factory.mktemp("destination") / "spans.pb"
    path.write_bytes(request.SerializeToString())
    return request_id, path, request


@requires_relink
@pytest.mark.parametrize("adoption", [False, True])
def test_destination_and_dead_letter_consumers_are_joined_to_the_invocation(
        destination_scenario, tmp_path, adoption):
    request_id, path, request = destination_scenario
    # The invocation spans (the SQS ones' per-message child spans left out): the source,
    # with the call's request id, and the two queues' consumers, with their events.
    source, consumers = None, []
    for _r, scope, span in otlp_files.spans(request):
        attrs = otlp_files.attributes(span.attributes)
        if scope == LAMBDA_SCOPE and "faas.invocation_id" in attrs:
            if attrs["faas.invocation_id"] == request_id:
                source = span
            else:
                consumers.append(span)
    # What the real aws-lambda instrumentation wrote: nothing joins them.
    assert source is not None and len(consumers) == 2
    for consumer in consumers:
        event = json.loads(otlp_files.attributes(consumer.attributes)["relink.event"])
        assert event["Records"][0]["eventSource"] == "aws:sqs"
        assert source.trace_id != consumer.trace_id and consumer.parent_span_id == b""
    output = run_relink(types.SimpleNamespace(pb_path=path), tmp_path,
                        config={"adoption": {"enabled": adoption}}, source="pb_path")
    after = {s.span_id: s for _r, _sc, s in otlp_files.spans(output)}
    source_out = after[source.span_id]
    call = next(s for _r, _sc, s in otlp_files.spans(output)
                if otlp_files.attributes(s.attributes).get("rpc.method") == "Invoke")
    for consumer in consumers:
        out = after[consumer.span_id]
        links = [(l.trace_id, l.span_id, otlp_files.attributes(l.attributes)) for l in out.links]
        assert (source_out.trace_id, source.span_id, {
            "relink.rule": "aws.lambda.destination", "relink.match": "request-id",
            "relink.key": pointer_hash("aws.lambda.destination", request_id),
            "relink.peer": "producer",
        }) in links
        if adoption:  # Invoke call -> invocation -> each consumer: one trace
            assert source_out.trace_id == call.trace_id
            assert (out.trace_id, out.parent_span_id) == (call.trace_id, source.span_id)
        else:
            assert (out.trace_id, out.parent_span_id) == (consumer.trace_id, b"")
