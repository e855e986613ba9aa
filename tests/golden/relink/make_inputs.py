#!/usr/bin/env python3
"""Writes the inputs and configs of the relink golden cases (tests/golden/relink/<case>/).

Inputs are OTLP/JSON batches as the real clients export them (`input-N.json`), or raw
inputs for the event entry point (`event-N.<ext>`: a trigger event, Step Functions log
lines, subscription data), see tests/relink_golden.rs:
- span attributes are those the OpenTelemetry instrumentations record, read from their
  source (opentelemetry-python-contrib botocore and aws-lambda, opentelemetry-js-contrib
  aws-sdk), plus the facts relink's hooks add (`aws.s3.bucket`, `aws.s3.key`,
  `relink.s3.etag`, `relink.dynamodb.keys`), named in src/processor/sdk.rs;
- Datadog spans are shaped as the Collector's datadog receiver converts them (scope
  `Datadog`, `dd.span.Resource`, `datadog.span.id`, `_dd.span_links` turned into links);
- trigger events are the shared fixtures under tests/fixtures, carried as JSON in the
  Lambda span's `relink.event` attribute. Where a case changes a fixture (a subset of
  records, one queue ARN for a batch), the case's README.md says so.

Run from the repository root: python3 tests/golden/relink/make_inputs.py
Then UPDATE_GOLDEN=1 cargo test --test relink_golden, and review the expected files.
"""

import base64
import copy
import datetime
import gzip
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(ROOT, "..", "..", "fixtures")
T0 = 1709929297000000000  # 2024-03-08T20:21:37Z, a fixture's SentTimestamp


def fixture(path):
    with open(os.path.join(FIXTURES, path)) as f:
        return json.load(f)


def value(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, list):
        return {"arrayValue": {"values": [value(x) for x in v]}}
    return {"stringValue": v}


def attrs(d):
    return [{"key": k, "value": value(v)} for k, v in d.items()]


def span(trace, sid, name, kind, a, start_ms, dur_ms, parent="", links=()):
    s = {
        "traceId": trace,
        "spanId": sid,
        "parentSpanId": parent,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(T0 + start_ms * 1_000_000),
        "endTimeUnixNano": str(T0 + (start_ms + dur_ms) * 1_000_000),
        "attributes": attrs(a),
        "status": {},
    }
    if links:
        s["links"] = list(links)
    return s


SERVER, CLIENT, PRODUCER = 2, 3, 4


def scope(name, spans, version="0.66b1", schema="https://opentelemetry.io/schemas/1.11.0"):
    return {"scope": {"name": name, "version": version}, "spans": spans, "schemaUrl": schema}


def lambda_resource(function):
    return {
        "attributes": attrs(
            {
                "service.name": function,
                "telemetry.sdk.language": "python",
                "telemetry.sdk.name": "opentelemetry",
                "telemetry.sdk.version": "1.45.0",
                "cloud.provider": "aws",
                "cloud.platform": "aws_lambda",
                "cloud.region": "us-east-1",
                "faas.name": function,
                "faas.version": "$LATEST",
            }
        )
    }


def lambda_span(trace, sid, function, invocation, start_ms, event=None, parent=""):
    """The span opentelemetry-instrumentation-aws-lambda starts, with the trigger event the
    shipped hook records."""
    a = {
        "cloud.account.id": "123456789012",
        "cloud.resource_id": f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
        "faas.invocation_id": invocation,
    }
    if event is not None:
        a["relink.event"] = json.dumps(event, separators=(",", ":"))
    return span(trace, sid, function, SERVER, a, start_ms, 120, parent)


def botocore(trace, sid, parent, service, method, request_id, start_ms, extra, name=None, kind=CLIENT):
    """A span of opentelemetry-instrumentation-botocore (rpc.*, aws.region from the call
    context; aws.request_id, retry_attempts, http.status_code from the response)."""
    a = {"rpc.system": "aws-api", "rpc.service": service, "rpc.method": method, "aws.region": "us-east-1"}
    a.update(extra)
    a.update({"aws.request_id": request_id, "retry_attempts": 0, "http.status_code": 200})
    return span(trace, sid, name or f"{service}.{method}", kind, a, start_ms, 30, parent)


def function_batch(function, lambda_spans, boto_spans, boto_scope="opentelemetry.instrumentation.botocore"):
    scopes = [scope("opentelemetry.instrumentation.aws_lambda", lambda_spans)]
    if boto_spans:
        scopes.append(scope(boto_scope, boto_spans))
    return {"resourceSpans": [{"resource": lambda_resource(function), "scopeSpans": scopes}]}


def merge(*batches):
    return {"resourceSpans": [rs for b in batches for rs in b["resourceSpans"]]}


class Raw:
    """A raw input for the event entry point (`event-N.<ext>`), not an OTLP batch."""

    def __init__(self, text, ext):
        self.text, self.ext = text, ext


def write_case(case, inputs, config=None, readme=None):
    d = os.path.join(ROOT, case)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("input-") or name.startswith("event-"):
            os.remove(os.path.join(d, name))
    for i, batch in enumerate(inputs, 1):
        path = os.path.join(d, f"input-{i}.json")
        if isinstance(batch, Raw):
            with open(os.path.join(d, f"event-{i}.{batch.ext}"), "w") as f:
                f.write(batch.text)
            continue
        with open(path, "w") as f:
            if isinstance(batch, (bytes, str)):
                f.write(batch if isinstance(batch, str) else batch.decode())
            else:
                json.dump(batch, f, indent=2)
                f.write("\n")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config or {}, f, indent=2)
        f.write("\n")
    if readme:
        with open(os.path.join(d, "README.md"), "w") as f:
            f.write(readme.strip() + "\n")


def pointer_hash(*elements):
    return hashlib.sha256(b"|".join(e.encode() for e in elements)).hexdigest()[:32]


# --- S3: function A writes an object, S3 notifies function B --------------------------------

S3_EVENT = fixture("aws-lambda-rust-runtime/example-s3-event.json")
S3_RECORD = S3_EVENT["Records"][0]
S3_KEY = "Happy Face.jpg"  # the notification carries it URL-encoded: Happy%20Face.jpg
S3_ETAG = S3_RECORD["s3"]["object"]["eTag"]
S3_REQUEST_ID = S3_RECORD["responseElements"]["x-amz-request-id"]

TRACE_A = "5b8efff798038103d269b633813fc60c"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"


def uploader(with_hooks):
    extra = {}
    if with_hooks:
        extra = {
            "aws.s3.bucket": S3_RECORD["s3"]["bucket"]["name"],
            "aws.s3.key": S3_KEY,
            # The PutObject response ETag, quoted as S3 returns it.
            "relink.s3.etag": f'"{S3_ETAG}"',
        }
    return function_batch(
        "uploader",
        [lambda_span(TRACE_A, "eee19b7ec3c1b174", "uploader", "3f1f0b0c-6a6d-4d39-9b3f-1f1c1e8f2a01", 0)],
        [botocore(TRACE_A, "b7ad6b7169203331", "eee19b7ec3c1b174", "S3", "PutObject", S3_REQUEST_ID, 20, extra)],
    )


def thumbnailer(event=S3_EVENT):
    return function_batch(
        "thumbnailer",
        [lambda_span(TRACE_B, "00f067aa0ba902b7", "thumbnailer", "7d1a2f0e-2b9c-4d8e-8a57-0c2f8c3b9e11", 900, event)],
        [
            botocore(
                TRACE_B,
                "53995c3f42cd8ad8",
                "00f067aa0ba902b7",
                "S3",
                "GetObject",
                "4442587FB7D0A2F9",
                910,
                {},
            )
        ],
    )


write_case(
    "s3-put-then-notify",
    [uploader(True), thumbnailer()],
    readme="""
Function A (uploader) writes `Happy Face.jpg` with PutObject; the hooks record bucket, key
and the quoted ETag. In a later batch, function B (thumbnailer) is invoked with the S3
notification fixture (aws-lambda-rust-runtime/example-s3-event.json, key URL-encoded).
Expected: A's PutObject span gets a Datadog pointer link (`d`); B's invocation span gets the
pointer link (`u`) with the same hash and a direct link to A's PutObject span; B's
GetObject span is untouched; the event attribute is removed.
""",
)

write_case(
    "s3-notify-then-put",
    [thumbnailer(), uploader(True)],
    readme="""
The same two functions as s3-put-then-notify, arriving in the other order: B's invocation
first, A's write in a later batch. Expected: B gets only its pointer link (A is not known
yet); A's PutObject span gets its pointer link and a direct link to B (`relink.peer=consumer`).
""",
)

write_case(
    "s3-raw-notify-then-put",
    [Raw(json.dumps(S3_EVENT, indent=2) + "\n", "json"), uploader(True)],
    readme="""
The S3 notification given to the event entry point as a raw event (what a host without the
function's own spans does), then A's write. Expected: the inferred span stands for the
notification, with the pointer link (`u`); A's PutObject span gets its pointer link and a
direct link to the inferred span (`relink.peer=consumer`). `relink event --otlp` prints
expected-1.json for this event.
""",
)

write_case(
    "s3-request-id",
    [uploader(False), thumbnailer()],
    readme="""
A's PutObject span as opentelemetry-instrumentation-botocore records it without relink's
hooks: no bucket, key or ETag, only `aws.request_id`. The notification's
`responseElements.x-amz-request-id` names the same request. Expected: no pointer link on A
(no ETag); B gets its pointer link and a direct link with `relink.match=request-id`.
""",
)

write_case(
    "s3-request-id-notify-first",
    [thumbnailer(), uploader(False)],
    readme="""
s3-request-id in the other arrival order: A's PutObject span gets the request-id link to B.
""",
)

write_case(
    "s3-one-batch",
    [merge(thumbnailer(), uploader(True))],
    readme="""
Both functions in one export request, the consumer first. Producers are indexed before
consumers are matched, so the result is the same as s3-put-then-notify.
""",
)

# --- DynamoDB: function W writes an item three times, the stream invokes function C -------

DDB_EVENT = fixture("datadog-lambda-python/dynamodb.json")
DDB_TABLE = "ExampleTableWithStream"
TRACE_W = ["a3ce929d0e0e47364bf92f3577b34da6", "b9c7c989f97918e1e1bfd4f0b8b8b6a5", "c4e3b07e5fd47c15b8c0a7f5e3a1d2c9"]
TRACE_C = ["1d1f2b5c8a6e4f3ba2c9d8e7f6a5b4c3", "2e2a3c6d9b7f5a4cb3dae9f8a7b6c5d4", "3f3b4d7eac8a6b5dc4ebfa09b8c7d6e5"]


def ddb_writer(i, method, keys):
    sid = ["0a1b2c3d4e5f6071", "1b2c3d4e5f607182", "2c3d4e5f60718293"][i]
    root = ["7a8b9cadbecfd0e1", "8b9cadbecfd0e1f2", "9cadbecfd0e1f203"][i]
    extra = {
        "db.system": "dynamodb",
        "db.operation": method,
        "net.peer.name": "dynamodb.us-east-1.amazonaws.com",
        "aws.dynamodb.table_names": [DDB_TABLE],
        "relink.dynamodb.keys": json.dumps(keys, separators=(",", ":")),
    }
    request_id = [
        "QK8A9NLU0QKCHUPD2R5F9OAL2BVV4KQNSO5AEMVJF66Q9ASUAAJG",
        "8F7QJ2AEVN1ARD5B8S1M4OBL6CVV4KQNSO5AEMVJF66Q9ASUAAJG",
        "2B6RUL0T1KQ3V4DEHS0QMGDBH7VV4KQNSO5AEMVJF66Q9ASUAAJG",
    ][i]
    return function_batch(
        "writer",
        [lambda_span(TRACE_W[i], root, "writer", f"9e0c7a44-0000-4000-8000-00000000000{i}", 2000 * i)],
        [botocore(TRACE_W[i], sid, root, "DynamoDB", method, request_id, 2000 * i + 10, extra)],
        boto_scope="opentelemetry.instrumentation.botocore.dynamodb",
    )


def ddb_consumer(i):
    event = copy.deepcopy(DDB_EVENT)
    event["Records"] = [DDB_EVENT["Records"][i]]
    sid = ["d1e2f30415263748", "e2f3041526374859", "f30415263748596a"][i]
    return function_batch(
        "stream-consumer",
        [lambda_span(TRACE_C[i], sid, "stream-consumer", f"c0ffee00-0000-4000-8000-00000000000{i}", 2000 * i + 500, event)],
        [],
    )


item = DDB_EVENT["Records"][0]["dynamodb"]["NewImage"]
key = DDB_EVENT["Records"][0]["dynamodb"]["Keys"]
write_case(
    "dynamodb-stream",
    [
        ddb_writer(0, "PutItem", item),
        ddb_consumer(0),
        ddb_writer(1, "UpdateItem", key),
        ddb_consumer(1),
        ddb_writer(2, "DeleteItem", key),
        ddb_consumer(2),
    ],
    config={"dynamodb": {"tables": {DDB_TABLE: ["Id"]}}},
    readme="""
Function W (writer) changes item `Id=101` of ExampleTableWithStream three times: PutItem
(the hook records the whole item, so the table's key schema comes from config.json),
UpdateItem and DeleteItem (the hook records the Key). After each write the stream invokes
function C with that change: the records of datadog-lambda-python/dynamodb.json (INSERT,
MODIFY, REMOVE), one record per invocation. All three changes have the same pointer hash
(same table and key, as in Datadog's scheme), so each invocation links to the latest write
the index holds: the write that caused it.
""",
)

# --- SQS: one batch of ten messages with every context format ------------------------------

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
TRACE_NODE = "4bf92f3577b34da6a3ce929d0e0e4736"
SEND_SPAN = "00f067aa0ba902b7"
W3C_MESSAGE_ID = "c8b2f7d0-5a1e-4f3b-9d6c-2e8a7b1c0f93"


def sqs_record(r):
    r = copy.deepcopy(r)
    r["eventSourceARN"] = QUEUE_ARN
    r["awsRegion"] = "us-east-1"
    return r


dd_batch = fixture("datadog-lambda-python/sqs-batch.json")["Records"]
template = dd_batch[0]
w3c_record = copy.deepcopy(template)
w3c_record["messageId"] = W3C_MESSAGE_ID
w3c_record["body"] = '{"order": 42}'
w3c_record["messageAttributes"] = {
    "traceparent": {
        "stringValue": f"00-{TRACE_NODE}-{SEND_SPAN}-01",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
}
sns_b64 = fixture("datadog-lambda-python/sns-b64-msg-attribute.json")["Records"][0]["Sns"]
raw_record = copy.deepcopy(template)
raw_record["messageId"] = "5e0b7d3a-9c2f-4e81-b6a4-7f1d2c3b4a50"
raw_record["body"] = sns_b64["Message"]
raw_record["messageAttributes"] = {
    "_datadog": {
        "binaryValue": sns_b64["MessageAttributes"]["_datadog"]["Value"],
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
}
records = [
    dd_batch[0],
    fixture("datadog-lambda-python/sqs-java-upstream.json")["Records"][0],
    fixture("datadog-lambda-python/sns-sqs-java-upstream.json")["Records"][0],
    fixture("datadog-lambda-python/eventbridge-sqs.json")["Records"][0],
    fixture("powertools-lambda-python/s3SqsEvent.json")["Records"][0],
    fixture("powertools-lambda-python/snsSqsEvent.json")["Records"][0],
    w3c_record,
    raw_record,
    fixture("aws-lambda-rust-runtime/example-sqs-event.json")["Records"][0],
    dd_batch[1],
]
sqs_event = {"Records": [sqs_record(r) for r in records]}


def node_producer():
    """A Node.js service sending with @opentelemetry/instrumentation-aws-sdk: it injects
    traceparent into MessageAttributes and records messaging.message_id."""
    a = {
        "rpc.system": "aws-api",
        "rpc.method": "SendMessage",
        "rpc.service": "SQS",
        "cloud.region": "us-east-1",
        "messaging.system": "aws.sqs",
        "messaging.destination_kind": "queue",
        "messaging.destination": "orders",
        "messaging.url": "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
        "aws.request.id": "4d3c2b1a-0f9e-5d8c-b7a6-958473625140",
        "http.status_code": 200,
        "messaging.message_id": W3C_MESSAGE_ID,
    }
    res = {
        "attributes": attrs(
            {"service.name": "checkout", "telemetry.sdk.language": "nodejs", "telemetry.sdk.name": "opentelemetry"}
        )
    }
    spans = [span(TRACE_NODE, SEND_SPAN, "orders send", PRODUCER, a, 0, 25)]
    sc = scope("@opentelemetry/instrumentation-aws-sdk", spans, version="0.60.0", schema="")
    return {"resourceSpans": [{"resource": res, "scopeSpans": [sc]}]}


write_case(
    "sqs-batch-mixed-contexts",
    [
        node_producer(),
        function_batch(
            "order-worker",
            [lambda_span("8448eb211c80319c0af7651916cd43dd", "b9c7c989f97918e1", "order-worker", "a1b2c3d4-0000-4000-8000-000000000010", 1000, sqs_event)],
            [],
        ),
    ],
    readme="""
A batch of ten SQS messages, each from a fixture, with one queue ARN for all (the only
change to them, besides two records built from the SQS event shape):
1. datadog-lambda-python/sqs-batch.json record 1: `_datadog` String attribute;
2. sqs-java-upstream.json: `AWSTraceHeader` only;
3. sns-sqs-java-upstream.json: SNS notification body, `AWSTraceHeader`;
4. eventbridge-sqs.json: EventBridge body with `_datadog` (Datadog and W3C, the same span)
   and an `AWSTraceHeader`;
5. powertools s3SqsEvent.json: an S3 notification in the body (a pointer, no context);
6. powertools snsSqsEvent.json: SNS body without context;
7. built: a `traceparent` String attribute as @opentelemetry/instrumentation-aws-sdk
   injects it; the Node.js sender's span (batch 1) recorded this message's id;
8. built: SNS raw message delivery of a Datadog publisher: `_datadog` as a Binary attribute
   (the value of sns-b64-msg-attribute.json);
9. aws-lambda-rust-runtime example-sqs-event.json: no context;
10. sqs-batch.json record 2: the same context as record 1.
Expected: one link per distinct upstream span, each naming its message; record 7 joins the
sender both by message id (exact) and by context, which is one link.
""",
)

# --- Adoption: A -> S3 -> B -> DynamoDB -> C becomes one trace -----------------------------

TRACE_C1 = "6e0c63257de34c926f9efcd03927272e"
b_batch = thumbnailer()
b_spans = b_batch["resourceSpans"][0]["scopeSpans"][1]["spans"]
b_spans.append(
    botocore(
        TRACE_B,
        "c0d1e2f3a4b5c6d7",
        "00f067aa0ba902b7",
        "DynamoDB",
        "PutItem",
        "QK8A9NLU0QKCHUPD2R5F9OAL2BVV4KQNSO5AEMVJF66Q9ASUAAJG",
        930,
        {
            "db.system": "dynamodb",
            "db.operation": "PutItem",
            "net.peer.name": "dynamodb.us-east-1.amazonaws.com",
            "aws.dynamodb.table_names": [DDB_TABLE],
            "relink.dynamodb.keys": json.dumps(item, separators=(",", ":")),
        },
    )
)
c_event = copy.deepcopy(DDB_EVENT)
c_event["Records"] = [DDB_EVENT["Records"][0]]
c_batch = function_batch(
    "stream-consumer",
    [lambda_span(TRACE_C1, "8a9b0c1d2e3f4a5b", "stream-consumer", "c0ffee00-0000-4000-8000-000000000099", 1500, c_event)],
    [botocore(TRACE_C1, "9b0c1d2e3f4a5b6c", "8a9b0c1d2e3f4a5b", "SNS", "Publish", "f1e2d3c4-b5a6-5978-8695-a4b3c2d1e0f9", 1510, {"messaging.system": "aws.sns"}, name="notifications send", kind=PRODUCER)],
)
late = function_batch(
    "stream-consumer",
    [],
    [botocore(TRACE_C1, "ab0c1d2e3f4a5b6d", "8a9b0c1d2e3f4a5b", "S3", "GetObject", "5A8F0D2C9B7E4A61", 1530, {})],
)
late["resourceSpans"][0]["scopeSpans"] = late["resourceSpans"][0]["scopeSpans"][1:]
write_case(
    "adoption-one-trace",
    [uploader(True), b_batch, c_batch, late],
    config={"adoption": {"enabled": True}, "dynamodb": {"tables": {DDB_TABLE: ["Id"]}}},
    readme="""
Adoption on. A (uploader) writes to S3; B (thumbnailer) is triggered and writes item
`Id=101` with PutItem; the stream invokes C (stream-consumer), which publishes to SNS; a
last span of C's original trace (a GetObject) arrives in a later batch. Expected: every
span of the four batches carries A's trace id; B's root is parented under A's PutObject, C's
root under B's PutItem; adopted spans keep their former trace id in
`relink.original_trace_id`, and each adopted root links to its former trace.
""",
)

# --- Datadog tracers and relink's pointers meet --------------------------------------------

DD_EVENT = fixture("datadog-lambda-python/s3.json")
DD_RECORD = DD_EVENT["Records"][0]


def dd_resource(service):
    return {
        "attributes": attrs(
            {
                "telemetry.sdk.name": "Datadog",
                "telemetry.sdk.language": "python",
                "telemetry.sdk.version": "Datadog-3.12.0",
                "service.name": service,
            }
        )
    }


def dd_span(trace64, span64, parent64, name, resource, kind, links, start_ms):
    trace = "0" * 16 + format(trace64, "016x")
    s = span(
        trace,
        format(span64, "016x"),
        name,
        kind,
        {
            "dd.span.Resource": resource,
            "datadog.span.id": str(span64),
            "datadog.trace.id": str(trace64),
            "span.kind": {SERVER: "server", CLIENT: "client"}[kind],
        },
        start_ms,
        40,
        format(parent64, "016x") if parent64 else "",
        links,
    )
    s["status"] = {"code": 1}
    return s


def dd_pointer(direction, h):
    """A `_dd.span_links` entry of dd-trace-py's span pointer, as the receiver converts it."""
    return {
        "traceId": "0" * 32,
        "spanId": "0" * 16,
        "attributes": attrs({"ptr.kind": "aws.s3.object", "ptr.dir": direction, "ptr.hash": h, "link.kind": "span-pointer"}),
    }


H1 = pointer_hash(S3_RECORD["s3"]["bucket"]["name"], S3_KEY, S3_ETAG)
H2 = pointer_hash(DD_RECORD["s3"]["bucket"]["name"], DD_RECORD["s3"]["object"]["key"], DD_RECORD["s3"]["object"]["eTag"])
dd_uploader = {
    "resourceSpans": [
        {
            "resource": dd_resource("dd-uploader"),
            "scopeSpans": [
                {
                    "scope": {"name": "Datadog", "version": "3.12.0"},
                    "spans": [
                        dd_span(6148299799767393633, 1234567890123456789, 0, "aws.lambda", "dd-uploader", SERVER, [], 0),
                        dd_span(6148299799767393633, 2345678901234567890, 1234567890123456789, "s3.command", "s3.putobject", CLIENT, [dd_pointer("d", H1)], 10),
                    ],
                }
            ],
        }
    ]
}
otel_writer = function_batch(
    "otel-writer",
    [lambda_span("9f8e7d6c5b4a39281706f5e4d3c2b1a0", "1a2b3c4d5e6f7081", "otel-writer", "0d0e0f10-0000-4000-8000-000000000020", 2000)],
    [
        botocore(
            "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "2b3c4d5e6f708192",
            "1a2b3c4d5e6f7081",
            "S3",
            "PutObject",
            DD_RECORD["responseElements"]["x-amz-request-id"],
            2010,
            {
                "aws.s3.bucket": DD_RECORD["s3"]["bucket"]["name"],
                "aws.s3.key": DD_RECORD["s3"]["object"]["key"],
                "relink.s3.etag": '"' + DD_RECORD["s3"]["object"]["eTag"] + '"',
            },
        )
    ],
)
dd_consumer = {
    "resourceSpans": [
        {
            "resource": dd_resource("dd-consumer"),
            "scopeSpans": [
                {
                    "scope": {"name": "Datadog", "version": "3.12.0"},
                    "spans": [dd_span(7353749174516582937, 3456789012345678901, 0, "aws.lambda", "dd-consumer", SERVER, [dd_pointer("u", H2)], 2500)],
                }
            ],
        }
    ]
}
write_case(
    "datadog-pointers",
    [dd_uploader, thumbnailer(), otel_writer, dd_consumer],
    readme="""
Mixed fleets. A Datadog-traced function writes `Happy Face.jpg` (its s3.command span carries
dd-trace-py's span pointer, `ptr.dir=d`, as the datadog receiver converts `_dd.span_links`);
an OTel function is triggered by the notification: relink writes the same pointer hash
(`ptr.dir=u`) and a direct link to the Datadog span. Then an OTel function writes
`test/key` (datadog-lambda-python/s3.json's object) and a Datadog-traced function triggered
by it carries the upstream pointer: relink links the Datadog invocation span to the OTel
write. Datadog spans' own pointer links are left as they are.
""",
)

# --- Step Functions: a workflow and its Lambdas in one trace -------------------------------
#
# Function `checkout` starts execution order-5521 of OrderFlow with StartExecution (the hooks
# record the returned executionArn in relink.message_ids). OrderFlow runs three Task states:
# Validate (Lambda validate-order; Payload `States.JsonMerge($$, $, false)`, so the context
# object is at the top of its event), Charge (Lambda charge-card with Datadog's JSONata
# `_datadog` payload; the first attempt fails, the Retry invokes it again with RetryCount 1)
# and Ship (`startExecution.sync:2` of Shipping, passing the `_datadog` context object in the
# child's input, as Datadog documents for nested workflows). Shipping's Label state invokes
# make-label, whose `_datadog` carries RootExecutionId = the parent execution. Execution log
# lines follow the CloudWatch Logs format (level ALL, execution data included).

SFN_REGION = "us-east-1"
SFN_ACCOUNT = "123456789012"
ORDERFLOW = f"arn:aws:states:{SFN_REGION}:{SFN_ACCOUNT}:stateMachine:OrderFlow"
ORDER_EXEC = f"arn:aws:states:{SFN_REGION}:{SFN_ACCOUNT}:execution:OrderFlow:order-5521"
SHIPPING = f"arn:aws:states:{SFN_REGION}:{SFN_ACCOUNT}:stateMachine:Shipping"
SHIP_EXEC = f"arn:aws:states:{SFN_REGION}:{SFN_ACCOUNT}:execution:Shipping:order-5521-ship"
ORDER_INPUT = {"orderId": "5521", "amount": 1999}
T0_MS = T0 // 1_000_000
TRACE_CHECKOUT = "7c3e1f0a9b8d4c2e6f5a4b3c2d1e0f9a"


def iso(off_ms):
    """The ISO 8601 form Step Functions gives `State.EnteredTime` (milliseconds, `Z`)."""
    ms = T0_MS + off_ms
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def compact(v):
    return json.dumps(v, separators=(",", ":"))


def context_object(execution, machine, name, input_, started, state, entered, retry):
    return {
        "Execution": {
            "Id": execution,
            "Input": input_,
            "StartTime": iso(started),
            "Name": execution.rsplit(":", 1)[1],
            "RoleArn": f"arn:aws:iam::{SFN_ACCOUNT}:role/{name}Role",
            "RedriveCount": 0,
        },
        "StateMachine": {"Id": machine, "Name": name},
        "State": {"Name": state, "EnteredTime": iso(entered), "RetryCount": retry},
    }


def datadog_payload(base, ctx, root):
    """Datadog's JSONata Lambda payload: the state input with `_datadog` merged in."""
    return dict(base, _datadog=dict(ctx, RootExecutionId=root, **{"serverless-version": "v1"}))


def log_lines(execution, events):
    """Execution log lines: (type, details, offset ms), ids in order, previous = id - 1."""
    out = []
    for i, (kind, details, off) in enumerate(events, 1):
        out.append(
            compact(
                {
                    "id": str(i),
                    "type": kind,
                    "details": details,
                    "previous_event_id": str(i - 1),
                    "event_timestamp": str(T0_MS + off),
                    "execution_arn": execution,
                    "redrive_count": "0",
                }
            )
        )
    return "\n".join(out) + "\n"


NOT_TRUNCATED = {"truncated": False}
# CloudWatch Logs event ids are 56-digit decimal strings.
LOG_EVENT_ID = 37_987_654_321_012_345_678_901_234_567_890_123_456_789_012_345_678_901


def lambda_task(function, payload):
    return {
        "resourceType": "lambda",
        "resource": "invoke",
        "region": SFN_REGION,
        "parameters": compact({"FunctionName": f"arn:aws:lambda:{SFN_REGION}:{SFN_ACCOUNT}:function:{function}", "Payload": payload}),
        "timeoutInSeconds": 60,
    }


LAMBDA_DONE = {"resourceType": "lambda", "resource": "invoke"}


def lambda_output(v):
    return dict(LAMBDA_DONE, output=compact({"Payload": v, "StatusCode": 200}), outputDetails=NOT_TRUNCATED)


ORDER_STARTED = 45
VALIDATE_AT, CHARGE_AT, SHIP_AT = 52, 192, 1482
validate_event = dict(ORDER_INPUT, **context_object(ORDER_EXEC, ORDERFLOW, "OrderFlow", ORDER_INPUT, ORDER_STARTED, "Validate", VALIDATE_AT, 0))


def charge_event(retry):
    ctx = context_object(ORDER_EXEC, ORDERFLOW, "OrderFlow", ORDER_INPUT, ORDER_STARTED, "Charge", CHARGE_AT, retry)
    return datadog_payload(ORDER_INPUT, ctx, ORDER_EXEC)


ship_ctx = context_object(ORDER_EXEC, ORDERFLOW, "OrderFlow", ORDER_INPUT, ORDER_STARTED, "Ship", SHIP_AT, 0)
ship_input = datadog_payload({"orderId": "5521"}, ship_ctx, ORDER_EXEC)
ship_input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] = ORDER_EXEC
SHIP_STARTED, LABEL_AT = 1500, 1505
label_ctx = context_object(SHIP_EXEC, SHIPPING, "Shipping", ship_input, SHIP_STARTED, "Label", LABEL_AT, 0)
label_event = datadog_payload({"orderId": "5521"}, label_ctx, ORDER_EXEC)
SYNC = {"resourceType": "states", "resource": "startExecution.sync:2"}
declined = {"errorMessage": "card issuer timeout", "errorType": "PaymentDeclinedTemporarily"}

order_logs = log_lines(
    ORDER_EXEC,
    [
        ("ExecutionStarted", {"input": compact(ORDER_INPUT), "inputDetails": NOT_TRUNCATED, "roleArn": f"arn:aws:iam::{SFN_ACCOUNT}:role/OrderFlowRole"}, ORDER_STARTED),
        ("TaskStateEntered", {"name": "Validate", "input": compact(ORDER_INPUT), "inputDetails": NOT_TRUNCATED}, VALIDATE_AT),
        ("TaskScheduled", lambda_task("validate-order", validate_event), 53),
        ("TaskStarted", LAMBDA_DONE, 60),
        ("TaskSucceeded", lambda_output({"valid": True}), 190),
        ("TaskStateExited", {"name": "Validate", "output": compact(ORDER_INPUT), "outputDetails": NOT_TRUNCATED}, 191),
        ("TaskStateEntered", {"name": "Charge", "input": compact(ORDER_INPUT), "inputDetails": NOT_TRUNCATED}, CHARGE_AT),
        ("TaskScheduled", lambda_task("charge-card", charge_event(0)), 193),
        ("TaskStarted", LAMBDA_DONE, 200),
        ("TaskFailed", dict(LAMBDA_DONE, error="PaymentDeclinedTemporarily", cause=compact(declined)), 330),
        ("TaskScheduled", lambda_task("charge-card", charge_event(1)), 1331),
        ("TaskStarted", LAMBDA_DONE, 1340),
        ("TaskSucceeded", lambda_output({"charged": True}), 1480),
        ("TaskStateExited", {"name": "Charge", "output": compact(ORDER_INPUT), "outputDetails": NOT_TRUNCATED}, 1481),
        ("TaskStateEntered", {"name": "Ship", "input": compact(ORDER_INPUT), "inputDetails": NOT_TRUNCATED}, SHIP_AT),
        ("TaskScheduled", dict(SYNC, region=SFN_REGION, parameters=compact({"StateMachineArn": SHIPPING, "Name": "order-5521-ship", "Input": ship_input})), 1483),
        ("TaskStarted", SYNC, 1490),
        ("TaskSubmitted", dict(SYNC, output=compact({"ExecutionArn": SHIP_EXEC, "StartDate": (T0_MS + SHIP_STARTED) / 1000}), outputDetails=NOT_TRUNCATED), 1520),
        ("TaskSucceeded", dict(SYNC, output=compact({"ExecutionArn": SHIP_EXEC, "Output": {"label": "1Z999"}, "Status": "SUCCEEDED"}), outputDetails=NOT_TRUNCATED), 2600),
        ("TaskStateExited", {"name": "Ship", "output": compact({"label": "1Z999"}), "outputDetails": NOT_TRUNCATED}, 2601),
        ("ExecutionSucceeded", {"output": compact({"label": "1Z999"}), "outputDetails": NOT_TRUNCATED}, 2603),
    ],
)
ship_logs = log_lines(
    SHIP_EXEC,
    [
        ("ExecutionStarted", {"input": compact(ship_input), "inputDetails": NOT_TRUNCATED, "roleArn": f"arn:aws:iam::{SFN_ACCOUNT}:role/ShippingRole"}, SHIP_STARTED),
        ("TaskStateEntered", {"name": "Label", "input": compact(ship_input), "inputDetails": NOT_TRUNCATED}, LABEL_AT),
        ("TaskScheduled", lambda_task("make-label", label_event), 1506),
        ("TaskStarted", LAMBDA_DONE, 1512),
        ("TaskSucceeded", lambda_output({"label": "1Z999"}), 2550),
        ("TaskStateExited", {"name": "Label", "output": compact({"label": "1Z999"}), "outputDetails": NOT_TRUNCATED}, 2551),
        ("ExecutionSucceeded", {"output": compact({"label": "1Z999"}), "outputDetails": NOT_TRUNCATED}, 2560),
    ],
)


def subscription_document(lines, first_id):
    """A CloudWatch Logs subscription document of execution log lines."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": SFN_ACCOUNT,
        "logGroup": "/aws/vendedlogs/states/Shipping-Logs",
        "logStream": "states/Shipping/2024-03-08-20-21/0a1b2c3d",
        "subscriptionFilters": ["relink"],
        "logEvents": [
            {"id": str(first_id + i), "timestamp": int(json.loads(l)["event_timestamp"]), "message": l}
            for i, l in enumerate(lines)
        ],
    }


def awslogs_event(lines):
    raw = compact(subscription_document(lines, LOG_EVENT_ID))
    return compact({"awslogs": {"data": base64.b64encode(gzip.compress(raw.encode(), mtime=0)).decode()}})


def firehose_delivery(lines):
    """What a Firehose delivery stream writes for a subscription: documents back to back."""
    half = len(lines) // 2
    a = subscription_document(lines[:half], LOG_EVENT_ID)
    b = subscription_document(lines[half:], LOG_EVENT_ID + half)
    return compact(a) + compact(b)


def checkout():
    extra = {"relink.message_ids": [ORDER_EXEC]}
    return function_batch(
        "checkout",
        [lambda_span(TRACE_CHECKOUT, "1f2e3d4c5b6a7980", "checkout", "5a1c0f00-0000-4000-8000-000000005521", 0)],
        [botocore(TRACE_CHECKOUT, "2a3b4c5d6e7f8091", "1f2e3d4c5b6a7980", "SFN", "StartExecution", "b6f1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d", 20, extra)],
    )


def invoked(function, trace, sid, invocation, start_ms, event, error=None):
    batch = function_batch(function, [lambda_span(trace, sid, function, invocation, start_ms, event)], [])
    if error:
        s = batch["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        s["status"] = {"code": 2, "message": error}
    return batch


TRACE_VALIDATE = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
TRACE_CHARGE = ["1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f", "2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f70"]
TRACE_LABEL = "3e4f5a6b7c8d9e0f1a2b3c4d5e6f7081"
lambdas = merge(
    invoked("validate-order", TRACE_VALIDATE, "4f5a6b7c8d9e0f1a", "0f000000-0000-4000-8000-000000000001", 62, validate_event),
    invoked("charge-card", TRACE_CHARGE[0], "5a6b7c8d9e0f1a2b", "0f000000-0000-4000-8000-000000000002", 202, charge_event(0), "PaymentDeclinedTemporarily"),
    invoked("charge-card", TRACE_CHARGE[1], "6b7c8d9e0f1a2b3c", "0f000000-0000-4000-8000-000000000003", 1342, charge_event(1)),
)
labeler = invoked("make-label", TRACE_LABEL, "7c8d9e0f1a2b3c4d", "0f000000-0000-4000-8000-000000000004", 1515, label_event)
ship_lines = ship_logs.splitlines()

write_case(
    "stepfn-link",
    [Raw(order_logs, "ndjson"), checkout(), lambdas, Raw(awslogs_event(ship_lines) + "\n", "json"), labeler],
    readme="""
Step Functions, link mode (the default). Batch 1: OrderFlow's execution log lines (NDJSON)
through the event entry point: the workflow's spans in its deterministic trace. Batch 2:
function `checkout`, whose StartExecution span recorded the execution ARN: it links to the
execution span (`relink.peer=consumer`, the execution arrived first). Batch 3: the Lambdas
the states invoked, each with the context object in its event: validate-order (top-level
`$$`), charge-card twice (`_datadog`, RetryCount 0 then 1): each links to its state span
(Validate, Charge, `Charge (retry 1)`), `relink.match=deterministic`. Batch 4: the nested
Shipping execution's log lines as an `awslogs` subscription event: its execution span is the
child of OrderFlow's Ship state, in the same trace. Batch 5: make-label links to Shipping's
Label state. No trace id changes.
""",
)

late_charge = function_batch(
    "charge-card",
    [],
    [botocore(TRACE_CHARGE[0], "8d9e0f1a2b3c4d5e", "5a6b7c8d9e0f1a2b", "DynamoDB", "GetItem", "8F7QJ2AEVN1ARD5B8S1M4OBL6CVV4KQNSO5AEMVJF66Q9ASUAAJG", 210, {"db.system": "dynamodb", "aws.dynamodb.table_names": ["cards"]})],
)
late_charge["resourceSpans"][0]["scopeSpans"] = late_charge["resourceSpans"][0]["scopeSpans"][1:]
write_case(
    "stepfn-adoption",
    [checkout(), Raw(order_logs, "ndjson"), lambdas, Raw(firehose_delivery(ship_lines), "json"), merge(labeler, late_charge)],
    config={"adoption": {"enabled": True}},
    readme="""
The workflow of stepfn-link with adoption on, the StartExecution call first. Batch 1:
`checkout` and its StartExecution span. Batch 2: OrderFlow's log lines: the execution span
joins the StartExecution call, and the workflow's trace is adopted into checkout's trace,
the execution span parented under the StartExecution span. Batch 3: each Lambda's trace is
adopted into the workflow's trace (now checkout's), its root parented under its state span.
Batch 4: Shipping's log lines as a Firehose delivery holds them (two subscription documents
back to back): the nested execution lands in the same trace under the Ship state. Batch 5:
make-label under Shipping's Label state, and a late GetItem span of charge-card's first
attempt, rewritten through the remap. Every span of every batch ends up in checkout's trace:
one trace from the caller through both workflows to every Lambda.
""",
)

# --- Step Functions context through SQS: a state's SendMessage, consumed in a batch ------
#
# Workflow Notify sends two SQS messages from two states (Announce, Remind), each with the
# state's context object in the `_datadog` message attribute, as Datadog documents it for
# the JSONata `sqs:sendMessage` task (`RootExecutionId`, `serverless-version: v1`). One
# invocation of `notifier` receives both messages in one batch.

NOTIFY = f"arn:aws:states:{SFN_REGION}:{SFN_ACCOUNT}:stateMachine:Notify"
NOTIFY_EXEC = f"arn:aws:states:{SFN_REGION}:{SFN_ACCOUNT}:execution:Notify:notify-5521"
NOTIFY_QUEUE = f"arn:aws:sqs:{SFN_REGION}:{SFN_ACCOUNT}:notifications"
NOTIFY_STARTED, ANNOUNCE_AT, REMIND_AT = 3000, 3004, 3120
SQS_SEND = {"resourceType": "sqs", "resource": "sendMessage"}


def notify_context(state, entered):
    ctx = context_object(NOTIFY_EXEC, NOTIFY, "Notify", ORDER_INPUT, NOTIFY_STARTED, state, entered, 0)
    del ctx["Execution"]["Input"]  # Datadog's JSONata template leaves the input out
    return dict(ctx, RootExecutionId=NOTIFY_EXEC, **{"serverless-version": "v1"})


def notify_send(state, entered):
    params = {"QueueUrl": f"https://sqs.{SFN_REGION}.amazonaws.com/{SFN_ACCOUNT}/notifications",
              "MessageBody": compact({"orderId": "5521", "kind": state}),
              "MessageAttributes": {"_datadog": {"DataType": "String", "StringValue": compact(notify_context(state, entered))}}}
    return dict(SQS_SEND, region=SFN_REGION, parameters=compact(params))


def sent(message_id, md5):
    return dict(SQS_SEND, output=compact({"MD5OfMessageBody": md5, "MessageId": message_id}), outputDetails=NOT_TRUNCATED)


NOTIFY_MESSAGES = [("Announce", ANNOUNCE_AT, "9a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"), ("Remind", REMIND_AT, "0b1c2d3e-4f50-4162-8374-a5b6c7d8e9fa")]
notify_events = [("ExecutionStarted", {"input": compact(ORDER_INPUT), "inputDetails": NOT_TRUNCATED, "roleArn": f"arn:aws:iam::{SFN_ACCOUNT}:role/NotifyRole"}, NOTIFY_STARTED)]
for state, entered, message_id in NOTIFY_MESSAGES:
    notify_events += [
        ("TaskStateEntered", {"name": state, "input": compact(ORDER_INPUT), "inputDetails": NOT_TRUNCATED}, entered),
        ("TaskScheduled", notify_send(state, entered), entered + 1),
        ("TaskStarted", SQS_SEND, entered + 2),
        ("TaskSucceeded", sent(message_id, hashlib.md5(state.encode()).hexdigest()), entered + 40),
        ("TaskStateExited", {"name": state, "output": compact(ORDER_INPUT), "outputDetails": NOT_TRUNCATED}, entered + 41),
    ]
notify_events.append(("ExecutionSucceeded", {"output": compact(ORDER_INPUT), "outputDetails": NOT_TRUNCATED}, REMIND_AT + 50))
notify_logs = log_lines(NOTIFY_EXEC, notify_events)


def notify_record(state, entered, message_id):
    body = compact({"orderId": "5521", "kind": state})
    return {
        "messageId": message_id,
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + message_id.replace("-", ""),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(T0_MS + entered + 30),
            "SenderId": "AROAEXAMPLE:states",
            "ApproximateFirstReceiveTimestamp": str(T0_MS + REMIND_AT + 60),
        },
        "messageAttributes": {"_datadog": {"stringValue": compact(notify_context(state, entered)), "stringListValues": [],
                                           "binaryListValues": [], "dataType": "String"}},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": NOTIFY_QUEUE,
        "awsRegion": SFN_REGION,
    }


TRACE_NOTIFIER = "4a5b6c7d8e9f0a1b2c3d4e5f60718293"
notifier = invoked("notifier", TRACE_NOTIFIER, "8e9f0a1b2c3d4e5f", "0f000000-0000-4000-8000-000000000005", REMIND_AT + 70,
                   {"Records": [notify_record(*m) for m in NOTIFY_MESSAGES]})
write_case(
    "stepfn-sqs-batch",
    [Raw(notify_logs, "ndjson"), notifier],
    config={"adoption": {"enabled": True}},
    readme="""
A Step Functions state's context object carried through SQS, with adoption on. Batch 1:
workflow Notify's execution log lines: two `sqs:sendMessage` task states, Announce and
Remind, each sending one message with its context object in the `_datadog` message
attribute (Datadog's JSONata form: `RootExecutionId`, `serverless-version: v1`). Batch 2:
function `notifier`, invoked once with both messages: it links to both state spans (the
ids Datadog's Lambda library computes from each message, the same relink gave the states
in batch 1; `relink.match=deterministic`, `messaging.message.id` of each message), and its
trace is adopted into the workflow's trace under the first message's state (Announce).
""",
)

# --- The bundled demo: API Gateway -> A -> S3 -> B -> DynamoDB -> C -> Step Functions -> D --
#
# The README's main command replays this case through the relay. Function `orders-api`
# (API Gateway HTTP API, POST /orders) stores the order document in S3; the notification
# invokes `order-indexer`, which writes the order item to DynamoDB; the stream invokes
# `order-workflow`, which starts execution order-5521 of OrderFlow (the workflow of the
# Step Functions cases above), whose states invoke validate-order and charge-card (twice,
# the first attempt failing). Each function is instrumented with OpenTelemetry and exports
# on its own, so before relinking the backend sees six unrelated traces and no workflow.

DEMO_BUCKET, DEMO_KEY, DEMO_ETAG = "orders-uploads", "orders/5521.json", "9b2cf535f27731c974343645a3985328"
DEMO_S3_REQUEST_ID = "8KJ3VY0G7QF9W2BZ"
DEMO_TABLE = "orders"
DEMO_ITEM = {"pk": {"S": "order#5521"}, "amount": {"N": "1999"}, "status": {"S": "placed"}}
TRACE_API, TRACE_INDEXER, TRACE_WORKFLOW = (
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "5ce0a4f6a1e2b3c4d5e6f708192a3b4c",
    "6df1b5a7b2f3c4d5e6f708192a3b4c5d",
)

api_event = fixture("aws-lambda-rust-runtime/apigw_v2_proxy_request.json")
api_event["routeKey"] = "POST /orders"
api_event["rawPath"] = "/orders"
api_event["requestContext"]["http"]["method"] = "POST"
api_event["requestContext"]["http"]["path"] = "/orders"
api_event["requestContext"]["routeKey"] = "POST /orders"
api_event["requestContext"]["timeEpoch"] = T0_MS - 2005

demo_s3 = copy.deepcopy(S3_EVENT)
demo_record = demo_s3["Records"][0]
demo_record["eventTime"] = iso(-1120)
demo_record["s3"]["bucket"].update({"name": DEMO_BUCKET, "arn": f"arn:aws:s3:::{DEMO_BUCKET}"})
demo_record["s3"]["object"].update({"key": "orders/5521.json", "eTag": DEMO_ETAG, "size": 412})
demo_record["responseElements"]["x-amz-request-id"] = DEMO_S3_REQUEST_ID

demo_stream = copy.deepcopy(DDB_EVENT)
demo_stream["Records"] = [copy.deepcopy(DDB_EVENT["Records"][0])]
demo_change = demo_stream["Records"][0]
demo_change["eventSourceARN"] = f"arn:aws:dynamodb:us-east-1:{SFN_ACCOUNT}:table/{DEMO_TABLE}/stream/2024-03-08T20:00:00.000"
demo_change["dynamodb"].update(
    {"Keys": {"pk": {"S": "order#5521"}}, "NewImage": DEMO_ITEM, "ApproximateCreationDateTime": (T0_MS - 1040) // 1000}
)


def with_event(batch, event):
    """Adds the trigger event, as the shipped aws-lambda hook records it, to the Lambda span."""
    s = batch["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    s["attributes"].append({"key": "relink.event", "value": {"stringValue": compact(event)}})
    return batch


orders_api = with_event(
    function_batch(
        "orders-api",
        [lambda_span(TRACE_API, "a1b2c3d4e5f60718", "orders-api", "0d000000-0000-4000-8000-000000000001", -2000)],
        [
            botocore(
                TRACE_API, "b2c3d4e5f6071829", "a1b2c3d4e5f60718", "S3", "PutObject", DEMO_S3_REQUEST_ID, -1980,
                {"aws.s3.bucket": DEMO_BUCKET, "aws.s3.key": DEMO_KEY, "relink.s3.etag": f'"{DEMO_ETAG}"'},
            )
        ],
    ),
    api_event,
)
order_indexer = function_batch(
    "order-indexer",
    [lambda_span(TRACE_INDEXER, "c3d4e5f60718293a", "order-indexer", "0d000000-0000-4000-8000-000000000002", -1100, demo_s3)],
    [
        botocore(
            TRACE_INDEXER, "d4e5f60718293a4b", "c3d4e5f60718293a", "DynamoDB", "PutItem",
            "5L2O8B3VDP1D8M9AE4Q6R7T0UVV4KQNSO5AEMVJF66Q9ASUAAJG", -1070,
            {
                "db.system": "dynamodb",
                "db.operation": "PutItem",
                "aws.dynamodb.table_names": [DEMO_TABLE],
                "relink.dynamodb.keys": compact(DEMO_ITEM),
            },
        )
    ],
)
order_workflow = function_batch(
    "order-workflow",
    [lambda_span(TRACE_WORKFLOW, "e5f60718293a4b5c", "order-workflow", "0d000000-0000-4000-8000-000000000003", -500, demo_stream)],
    [
        botocore(
            TRACE_WORKFLOW, "f60718293a4b5c6d", "e5f60718293a4b5c", "SFN", "StartExecution",
            "c7d8e9f0-1a2b-4c3d-8e4f-5a6b7c8d9e0f", 20, {"relink.message_ids": [ORDER_EXEC]},
        )
    ],
)
write_case(
    "serverless-demo",
    [orders_api, order_indexer, order_workflow, Raw(order_logs, "ndjson"), lambdas],
    config={"adoption": {"enabled": True}, "dynamodb": {"tables": {DEMO_TABLE: ["pk"]}}},
    readme="""
The README's main command: API Gateway -> orders-api puts orders/5521.json to S3 -> the
notification invokes order-indexer, which puts the order item to DynamoDB -> the stream
invokes order-workflow, which starts OrderFlow execution order-5521 -> its states invoke
validate-order and charge-card (a failed attempt, then a retry). Batches arrive in that
order, the execution's log lines through the event entry point. With adoption on, every
span of every batch ends up in orders-api's trace: one trace from the HTTP request through
S3, DynamoDB and the workflow to every Lambda.
""",
)

# --- Guarantees ---------------------------------------------------------------------------

plain = {
    "resourceSpans": [
        {
            "resource": {"attributes": attrs({"service.name": "web"})},
            "scopeSpans": [
                scope(
                    "opentelemetry.instrumentation.flask",
                    [
                        span(TRACE_A, "eee19b7ec3c1b174", "GET /orders", SERVER, {"http.method": "GET", "http.route": "/orders", "http.status_code": 200}, 0, 50),
                        span(TRACE_A, "b7ad6b7169203331", "SELECT orders", CLIENT, {"db.system": "postgresql"}, 5, 20, "eee19b7ec3c1b174"),
                    ],
                    version="0.45b0",
                )
            ],
        }
    ]
}
# --- Lambda calling Lambda: Invoke -> invocation, joined on the call's request id ------------

# Request ids of the Invoke calls, shaped as Lambda's (the AWS docs' invocation record).
INVOKE_ASYNC = "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2"
INVOKE_SYNC = "e4b46cbf-b738-4a1d-8880-a18cdf61200e"
INVOKE_IN_TRACE = "9f3b1c2d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
TRACE_C = "4bf92f3577b34da6a3ce929d0e0e4736"


def invoke(sid, parent, request_id, function, start_ms, trace=TRACE_A):
    """botocore's Lambda.Invoke span: rpc.*, and faas.invoked_* from its Lambda extension."""
    extra = {"faas.invoked_provider": "aws", "faas.invoked_name": function, "faas.invoked_region": "us-east-1"}
    return botocore(trace, sid, parent, "Lambda", "Invoke", request_id, start_ms, extra)


def caller(*calls):
    return function_batch(
        "dispatcher",
        [lambda_span(TRACE_A, "eee19b7ec3c1b174", "dispatcher", "3f1f0b0c-6a6d-4d39-9b3f-1f1c1e8f2a01", 0)],
        list(calls),
    )


def invoked(function, trace, sid, request_id, start_ms, parent=""):
    # An invocation without an event the hooks read: a custom payload, so no relink.event.
    return function_batch(function, [lambda_span(trace, sid, function, request_id, start_ms, parent=parent)], [])


write_case(
    "lambda-invoke-async",
    [
        caller(invoke("b7ad6b7169203331", "eee19b7ec3c1b174", INVOKE_ASYNC, "reporter", 20)),
        invoked("reporter", TRACE_B, "00f067aa0ba902b7", INVOKE_ASYNC, 900),
    ],
    config={"adoption": {"enabled": True}},
    readme="""
Function A (dispatcher) calls `Invoke` on B (reporter) with `InvocationType: Event`. Lambda
drops the call's ClientContext for asynchronous calls, so B starts a trace of its own; it
gets the call's request id as its `aws_request_id`, which opentelemetry-instrumentation-aws-lambda
writes as `faas.invocation_id` and botocore as the call's `aws.request_id`. Adoption on.
Expected: B's invocation span gets a direct link to A's Invoke span (`relink.rule=aws.lambda.invocation`,
`relink.match=request-id`) and B's trace is adopted under it: one trace.
""",
)

write_case(
    "lambda-invoke-sync",
    [
        invoked("reporter", TRACE_B, "00f067aa0ba902b7", INVOKE_SYNC, 20),
        invoked("auditor", TRACE_A, "53995c3f42cd8ad8", INVOKE_IN_TRACE, 140, parent="d75597dee50b0cac"),
        caller(
            invoke("b7ad6b7169203331", "eee19b7ec3c1b174", INVOKE_SYNC, "reporter", 10),
            invoke("d75597dee50b0cac", "eee19b7ec3c1b174", INVOKE_IN_TRACE, "auditor", 130),
        ),
    ],
    readme="""
Synchronous calls: the invoked functions end, and export, before the calls that waited for
them. A calls B (reporter), whose trace is its own (the context did not arrive), then C
(auditor), which did get A's context: C's invocation span is the child of A's second Invoke
span, in A's trace. Expected: A's first Invoke span gets a direct link to B's invocation
(`relink.peer=consumer`); nothing links A's second call and C, already parent and child.
""",
)

# --- Lambda destinations: the record of an asynchronous invocation, to SQS and EventBridge ---

DESTINATION_RECORD = fixture("aws-lambda-java-libs/lambda_destination_event.json")
SOURCE_OK = "8ea123e4-1db7-4aca-ad10-d9ca1234c1fd"  # the fixture's request id
SOURCE_FAILED = "6f1b2c3d-4e5a-4b6c-9d7e-8f9a0b1c2d3e"
TRACE_SOURCE_OK, TRACE_SOURCE_FAILED = "6a1b2c3d4e5f60718293a4b5c6d7e8f9", "7b2c3d4e5f60718293a4b5c6d7e8f90a"
TRACE_ON_SUCCESS, TRACE_ON_FAILURE = "8c3d4e5f60718293a4b5c6d7e8f90a1b", "9d4e5f60718293a4b5c6d7e8f90a1b2c"
TRACE_RETRY = "ae5f60718293a4b5c6d7e8f90a1b2c3d"


def destination_record(request_id, condition, attempts):
    record = copy.deepcopy(DESTINATION_RECORD)
    record["requestContext"].update(
        {"requestId": request_id, "condition": condition, "approximateInvokeCount": attempts,
         "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:nightly-report:$LATEST"})
    if condition == "Success":
        record["responseContext"].pop("functionError")
        record["responsePayload"] = {"rows": 1042}
    return record


schedule = fixture("aws-lambda-rust-runtime/example-eventbridge-schedule.json")
on_success_event = fixture("aws-lambda-rust-runtime/example-sqs-event.json")
on_success_event["Records"] = on_success_event["Records"][:1]
on_success_event["Records"][0]["body"] = json.dumps(
    destination_record(SOURCE_OK, "Success", 1), separators=(",", ":"))
on_failure_event = fixture("aws-lambda-rust-runtime/example-eventbridge-event-obj.json")
on_failure_event.update({
    "detail-type": "Lambda Function Invocation Result - Failure",
    "source": "lambda",
    "account": "123456789012",
    "resources": ["arn:aws:events:us-east-1:123456789012:event-bus/default",
                  "arn:aws:lambda:us-east-1:123456789012:function:nightly-report:$LATEST"],
    "detail": destination_record(SOURCE_FAILED, "RetriesExhausted", 2),
})


def attempt(trace, sid, request_id, start_ms, error=None):
    batch = function_batch("nightly-report", [lambda_span(trace, sid, "nightly-report", request_id, start_ms, schedule)], [])
    if error:
        batch["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["status"] = {"code": 2, "message": error}
    return batch


write_case(
    "lambda-destinations",
    [
        attempt(TRACE_SOURCE_OK, "1a2b3c4d5e6f7081", SOURCE_OK, 0),
        function_batch("report-sink", [lambda_span(TRACE_ON_SUCCESS, "2b3c4d5e6f708192", "report-sink", "a1b2c3d4-0000-4000-8000-000000000001", 400, on_success_event)], []),
        attempt(TRACE_SOURCE_FAILED, "3c4d5e6f708192a3", SOURCE_FAILED, 1000, "Timeout"),
        attempt(TRACE_RETRY, "4d5e6f708192a3b4", SOURCE_FAILED, 61000, "Timeout"),
        function_batch("report-alerts", [lambda_span(TRACE_ON_FAILURE, "5e6f708192a3b4c5", "report-alerts", "a1b2c3d4-0000-4000-8000-000000000002", 61500, on_failure_event)], []),
    ],
    config={"adoption": {"enabled": True}},
    readme="""
Lambda destinations. `nightly-report` runs from an EventBridge schedule (an asynchronous
invocation) with an `OnSuccess` destination, an SQS queue that `report-sink` reads, and an
`OnFailure` destination, an EventBridge bus whose rule invokes `report-alerts`. Lambda sends
each destination the invocation record (the aws-lambda-java-libs fixture, with this
function's ARN and request ids) without the invocation's trace context: `requestContext.requestId`
is the request id the invocation had, its `faas.invocation_id`. Batch 1: a successful run.
Batch 2: `report-sink`, whose SQS message is the `Success` record. Batches 3 and 4: two
attempts of a failing run (Lambda retries with the same request id, and each attempt starts
a trace of its own). Batch 5: `report-alerts`, whose bus event carries the
`RetriesExhausted` record. Adoption on. Expected: `report-sink` links to the successful
run (`relink.rule=aws.lambda.destination`, `relink.match=request-id`) and its trace is
adopted under it; `report-alerts` links to the last attempt and is adopted under it.
""",
)

write_case(
    "pass-through",
    [plain, json.dumps(plain, separators=(",", ":"))],
    readme="""
Spans no rule applies to, pretty-printed and compact: the output is the input, byte for byte.
""",
)

write_case(
    "malformed",
    ['{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "5b8e', '{"resourceSpans": "nope"}\n', "[1, 2, 3]\n", "\x00\xff not protobuf"],
    readme="""
Inputs that are not OTLP: truncated JSON, a wrong type, a JSON array, bytes that are neither
JSON nor protobuf. Each is returned byte-identical and counted in `errors.request_decode`.
""",
)

print("wrote", sorted(d for d in os.listdir(ROOT) if os.path.isdir(os.path.join(ROOT, d))))
