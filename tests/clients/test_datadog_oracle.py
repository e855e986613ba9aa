"""relink against Datadog's own Python code as an outside oracle: for real AWS trigger
payloads (the fixtures in tests/fixtures, unchanged, and variants of them that keep their
shape and change values: ids, `_dd.p.tid`, S3 keys and ETags, DynamoDB key types, Step
Functions counts and roots), the trace context, span-pointer hashes and Step Functions
deterministic ids `relink event` prints must equal what Datadog's Lambda library computes.

The oracle is Datadog's published code, run in a subprocess (importing datadog_lambda
patches libraries process-wide):
- datadog_lambda.tracing.extract_dd_trace_context (every per-source extractor, the Step
  Functions trace/parent id derivation `_deterministic_sha256_hash`,
  `_generate_sfn_trace_id`, `_generate_sfn_parent_id`), with an asynchronous invocation's
  Lambda context (no client context) and outside Lambda (no X-Ray fallback);
- datadog_lambda.span_pointers.calculate_span_pointers (which calls ddtrace's
  `_aws_s3_object_span_pointer_description` / `_aws_dynamodb_item_span_pointer_description`
  and `_standard_hashing_function`), record by record.

Pinned: datadog-lambda==8.130.0, ddtrace==4.16.0 (the newest on PyPI when written), in a
virtualenv of their own, `.venv-datadog` (tests/clients/requirements-datadog.txt, made by
`./build.sh test`): ddtrace adds a pytest plugin and patches libraries on import, which must
not reach the OpenTelemetry tests in `.venv`. A missing virtualenv or another version fails
the run, never skips it. About 3 s for ~230 cases.

What is compared, for the first record (Datadog parents the invocation under the first
record only; relink links every record to its own):
- context: the low 64 bits of the trace id, the high 64 bits (`_dd.p.tid`), the parent id and
  the sampling decision. relink's is the context its inferred span is parented under: the
  innermost decoded payload's first context (SNS or EventBridge inside SQS), else the item's
  first context;
- pointers, record by record: every (kind, direction, hash) Datadog writes must be among
  the hashes relink prints for that record, and `relink event --otlp` must write it with
  Datadog's kind and direction.

Verdicts: `match`, `both-none`, `datadog-none` (Datadog's code finds nothing, relink finds a
context or pointer: listed in DATADOG_NONE and asserted to stay that way), `MISMATCH`: a
failure, unless the case is one of DIVERGENCES, where relink differs on purpose (each says
why) and is asserted to still differ, so that a change on either side is looked at.
"""

import copy
import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELINK = ROOT / "dist" / "relink"
FIXTURES = ROOT / "tests" / "fixtures"
DATADOG_PYTHON = ROOT / ".venv-datadog" / "bin" / "python"

PINS = {"datadog-lambda": "8.130.0", "ddtrace": "4.16.0"}

# ----------------------------------------------------------------------------- cases

FIXTURE_DIRS = ["datadog-lambda-python", "datadog-lambda-js", "aws-lambda-rust-runtime",
                "powertools-lambda-python", "aws-lambda-go", "aws-lambda-java-libs",
                "aws-lambda-dotnet",
                "datadog-lambda-extension", "powertools-lambda-typescript"]
# Responses, not trigger events.
NOT_EVENTS = {"example-apigw-response.json", "example-alb-lambda-target-response.json",
              "example-sqs-batch-response.json", "example-kinesis-firehose-response.json",
              # CloudTrail records and an SQS ReceiveMessage response: not Lambda events
              # (relink refuses them, exit 2; Datadog finds nothing in them).
              "example-cloudwatch-cloudtrail-assumed-role.json",
              "example-cloudwatch-cloudtrail-unknown-federate.json",
              "example-cloudwatch-cloudtrail-unknown-user-auth.json",
              "example-sqs-api-event-obj.json"}

_CASES = {}


def load(rel):
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))


def write(name, event, origin):
    _CASES[name] = (event, origin)


def copy_fixtures():
    for d in FIXTURE_DIRS:
        for p in sorted((FIXTURES / d).glob("*.json")):
            if p.name in NOT_EVENTS:
                continue
            event = json.loads(p.read_text(encoding="utf-8-sig"))  # .NET samples start with a BOM
            if isinstance(event, dict):
                write(f"fx-{d}-{p.stem}", event, f"{d}/{p.name}")


# ------------------------------------------------------------------------- helpers
TID = "66bcb5eb00000000"
DD = {"x-datadog-trace-id": "2684756524522091840", "x-datadog-parent-id": "7431398482019833808",
      "x-datadog-sampling-priority": "1", "x-datadog-tags": f"_dd.p.dm=-0,_dd.p.tid={TID}"}
TP = "00-66bcb5eb0000000025422bd5a88d3540-6721a18bd12b57d0-01"


def sqs_string(dd):
    ev = load("datadog-lambda-python/sqs-string-msg-attribute.json")
    ev["Records"][0]["messageAttributes"]["_datadog"]["stringValue"] = json.dumps(dd)
    return ev


def sqs_binary(dd):
    ev = load("datadog-lambda-python/sqs-string-msg-attribute.json")
    ev["Records"][0]["messageAttributes"]["_datadog"] = {
        "binaryValue": base64.b64encode(json.dumps(dd).encode()).decode(),
        "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
    return ev


def sns_attr(dd, binary=False):
    ev = load("datadog-lambda-python/sns-string-msg-attribute.json")
    text = json.dumps(dd)
    ev["Records"][0]["Sns"]["MessageAttributes"]["_datadog"] = (
        {"Type": "Binary", "Value": base64.b64encode(text.encode()).decode()} if binary
        else {"Type": "String", "Value": text})
    return ev


def eventbridge(dd):
    ev = load("datadog-lambda-python/eventbridge-custom.json")
    ev["detail"]["_datadog"] = dd
    return ev


def eventbridge_sqs(dd):
    ev = load("datadog-lambda-python/eventbridge-sqs.json")
    body = json.loads(ev["Records"][0]["body"])
    body["detail"]["_datadog"] = dd
    ev["Records"][0]["body"] = json.dumps(body)
    return ev


def sns_sqs(dd, binary=False):
    """SNS -> SQS without raw delivery: the SNS envelope as the SQS body (a string, as
    SQS delivers it), the carrier in the envelope's MessageAttributes."""
    sqs = load("datadog-lambda-python/sqs-string-msg-attribute.json")
    sns = load("datadog-lambda-python/sns-string-msg-attribute.json")["Records"][0]["Sns"]
    text = json.dumps(dd)
    sns["MessageAttributes"] = {"_datadog": (
        {"Type": "Binary", "Value": base64.b64encode(text.encode()).decode()} if binary
        else {"Type": "String", "Value": text})}
    r = sqs["Records"][0]
    r["messageAttributes"] = {}
    r.pop("md5OfMessageAttributes", None)
    r["body"] = json.dumps(sns)
    return sqs


def kinesis(data_obj, raw=None):
    ev = load("datadog-lambda-python/kinesis.json")
    payload = raw if raw is not None else json.dumps(data_obj, ensure_ascii=False).encode()
    ev["Records"][0]["kinesis"]["data"] = base64.b64encode(payload).decode()
    return ev


def apigw(headers, multi=True):
    ev = load("datadog-lambda-python/api-gateway.json")
    for k in list(ev["headers"]):
        if k.lower().startswith("x-datadog"):
            del ev["headers"][k]
    for k in list(ev.get("multiValueHeaders", {})):
        if k.lower().startswith("x-datadog"):
            del ev["multiValueHeaders"][k]
    ev["headers"].update(headers)
    if multi:
        ev["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
    return ev


def http_api(headers):
    ev = load("datadog-lambda-python/http-api.json")
    for k in list(ev["headers"]):
        if k.startswith("x-datadog"):
            del ev["headers"][k]
    ev["headers"].update(headers)
    return ev


def sfn_ctx():
    """The context object of Datadog's states.json (JSONata `_datadog`), without the
    `serverless-version`/`RootExecutionId` members: what `$$` is."""
    c = copy.deepcopy(load("datadog-lambda-python/states.json")["_datadog"])
    c.pop("serverless-version")
    c.pop("RootExecutionId")
    return c


def sha_high_nibble_zero_execution():
    """An execution ARN (the states.json one, another UUID) whose SHA-256 high 64 bits
    start with a 0 hex digit after bit 63 is cleared, so `hex()` gives 15 digits."""
    base = "arn:aws:states:ca-central-1:425362996713:execution:MyStateMachine-wsx8chv4d:"
    for i in range(100000):
        uuid = f"1356a963-42a5-48b0-ba3f-{i:012x}"
        h = int(hashlib.sha256((base + uuid).encode()).hexdigest()[:16], 16) & 0x7FFFFFFFFFFFFFFF
        if h >> 60 == 0:
            return base + uuid, uuid


def variants():
    # ---------------- SQS
    write("v-sqs-string-tid", sqs_string(DD), "sqs-string-msg-attribute.json")
    write("v-sqs-binary-tid", sqs_binary(DD), "sqs-string-msg-attribute.json")
    write("v-sqs-string-traceparent-only", sqs_string({"traceparent": TP, "tracestate": "dd=s:1"}),
          "sqs-string-msg-attribute.json")
    write("v-sqs-string-dd-and-traceparent", sqs_string({**DD, "traceparent": TP, "tracestate": "dd=s:1;t.dm:-0"}),
          "sqs-string-msg-attribute.json")
    write("v-sqs-string-no-priority", sqs_string({k: v for k, v in DD.items() if k != "x-datadog-sampling-priority"}),
          "sqs-string-msg-attribute.json")
    write("v-sqs-string-priority-drop", sqs_string({**DD, "x-datadog-sampling-priority": "-1"}),
          "sqs-string-msg-attribute.json")
    write("v-sqs-string-tid-uppercase", sqs_string({**DD, "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=66BCB5EB00000000"}),
          "sqs-string-msg-attribute.json")
    ev = sqs_string(DD)
    ev["Records"][0]["attributes"]["AWSTraceHeader"] = "Root=1-64cc2edd-112fbf1701d1355973a11d57;Parent=7d5a9776024b2d42;Sampled=1"
    write("v-sqs-string-and-awstraceheader", ev, "sqs-string-msg-attribute.json + eventbridge-sqs.json AWSTraceHeader")
    ev = load("datadog-lambda-python/sqs-java-upstream.json")
    ev["Records"][0]["attributes"]["AWSTraceHeader"] = "Root=1-64cc2edd-112fbf1701d1355973a11d57;Parent=7d5a9776024b2d42;Sampled=1"
    write("v-sqs-awstraceheader-plain-xray", ev, "sqs-java-upstream.json")
    ev = load("datadog-lambda-python/sqs-java-upstream.json")
    ev["Records"][0]["attributes"]["AWSTraceHeader"] = "Root=1-65eb7350-000000006dfd06bf489aa4e5;Parent=48cc02b6aafae897;Sampled=0"
    write("v-sqs-awstraceheader-dd-sampled0", ev, "sqs-java-upstream.json")
    # batch whose second record has another context: Datadog reads only the first
    ev = load("datadog-lambda-python/sqs-batch.json")
    ev["Records"][1]["messageAttributes"]["_datadog"]["stringValue"] = json.dumps(DD)
    write("v-sqs-batch-second-differs", ev, "sqs-batch.json")
    # OTel-style individual traceparent message attribute (no _datadog)
    ev = load("datadog-lambda-python/sqs-string-msg-attribute.json")
    ev["Records"][0]["messageAttributes"] = {"traceparent": {"stringValue": TP, "stringListValues": [],
                                                             "binaryListValues": [], "dataType": "String"}}
    write("v-sqs-traceparent-attribute", ev, "sqs-string-msg-attribute.json")

    # ---------------- SNS
    write("v-sns-string-tid", sns_attr(DD), "sns-string-msg-attribute.json")
    write("v-sns-binary-tid", sns_attr(DD, binary=True), "sns-b64-msg-attribute.json")
    write("v-sns-string-traceparent-only", sns_attr({"traceparent": TP}), "sns-string-msg-attribute.json")
    ev = load("datadog-lambda-python/sns-string-msg-attribute.json")
    ev["Records"][0]["Sns"]["MessageAttributes"] = {"traceparent": {"Type": "String", "Value": TP}}
    write("v-sns-traceparent-attribute", ev, "sns-string-msg-attribute.json")

    # ---------------- SNS -> SQS
    write("v-sns-sqs-string-tid", sns_sqs(DD), "sqs-string-msg-attribute.json + sns-string-msg-attribute.json")
    write("v-sns-sqs-binary-tid", sns_sqs(DD, binary=True), "sqs-string-msg-attribute.json + sns-b64-msg-attribute.json")
    ev = sns_sqs(DD)
    ev["Records"][0]["attributes"]["AWSTraceHeader"] = "Root=1-64cc2edd-112fbf1701d1355973a11d57;Parent=7d5a9776024b2d42;Sampled=1"
    write("v-sns-sqs-string-and-awstraceheader", ev, "sns-sqs + AWSTraceHeader")

    # ---------------- EventBridge, EventBridge -> SQS
    write("v-eventbridge-tid", eventbridge(DD), "eventbridge-custom.json")
    write("v-eventbridge-traceparent-only", eventbridge({"traceparent": TP, "tracestate": "dd=s:1"}),
          "eventbridge-custom.json")
    write("v-eventbridge-no-priority", eventbridge({k: v for k, v in DD.items() if k != "x-datadog-sampling-priority"}),
          "eventbridge-custom.json")
    write("v-eventbridge-sqs-tid", eventbridge_sqs(DD), "eventbridge-sqs.json")
    ev = load("datadog-lambda-python/eventbridge-sqs.json")
    body = json.loads(ev["Records"][0]["body"])
    del body["detail"]["_datadog"]
    ev["Records"][0]["body"] = json.dumps(body)
    write("v-eventbridge-sqs-no-datadog", ev, "eventbridge-sqs.json")
    ev = eventbridge_sqs(DD)
    del ev["Records"][0]["attributes"]["AWSTraceHeader"]
    write("v-eventbridge-sqs-tid-no-xray", ev, "eventbridge-sqs.json")

    # ---------------- Kinesis
    write("v-kinesis-tid", kinesis({"foo": "bar", "_datadog": DD}), "kinesis.json")
    write("v-kinesis-traceparent-only", kinesis({"foo": "bar", "_datadog": {"traceparent": TP}}), "kinesis.json")
    write("v-kinesis-non-ascii-data", kinesis({"name": "José", "_datadog": DD}), "kinesis.json")

    # ---------------- HTTP
    write("v-apigw-dd-tid", apigw(DD), "api-gateway.json")
    write("v-apigw-traceparent-only", apigw({"traceparent": TP, "tracestate": "dd=s:1"}), "api-gateway.json")
    write("v-apigw-dd-and-traceparent-same", apigw({**DD, "traceparent": TP}), "api-gateway.json")
    # a W3C-aware hop between changed traceparent's parent (same trace)
    write("v-apigw-dd-and-traceparent-other-parent",
          apigw({**DD, "traceparent": "00-66bcb5eb0000000025422bd5a88d3540-00f067aa0ba902b7-01",
                 "tracestate": "dd=s:1;p:6721a18bd12b57d0"}), "api-gateway.json")
    # a W3C-only hop started a new trace: Datadog keeps its own, links the W3C one
    write("v-apigw-dd-and-traceparent-other-trace",
          apigw({**DD, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}), "api-gateway.json")
    write("v-apigw-xray-with-parent-and-dd",
          apigw({**DD, "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}),
          "api-gateway.json")
    write("v-apigw-dd-no-priority", apigw({k: v for k, v in DD.items() if k != "x-datadog-sampling-priority"}),
          "api-gateway.json")
    write("v-apigw-dd-capitalised", apigw({"X-Datadog-Trace-Id": "2684756524522091840", "X-Datadog-Parent-Id": "7431398482019833808",
                                           "X-Datadog-Sampling-Priority": "2", "X-Datadog-Tags": f"_dd.p.tid={TID}"}),
          "api-gateway.json")
    write("v-httpapi-dd-tid", http_api(DD), "http-api.json")
    write("v-httpapi-traceparent", http_api({"traceparent": TP}), "http-api.json")
    ev = load("datadog-lambda-python/lambda-url.json")
    ev["headers"].update(DD)
    write("v-lambda-url-dd-tid", ev, "lambda-url.json")
    ev = load("datadog-lambda-python/lambda-url.json")
    ev["headers"]["traceparent"] = TP
    write("v-lambda-url-traceparent", ev, "lambda-url.json")
    ev = load("datadog-lambda-python/application-load-balancer.json")
    ev["headers"].update(DD)
    write("v-alb-dd-tid", ev, "application-load-balancer.json")
    ev = load("aws-lambda-rust-runtime/example-alb-lambda-target-request-multivalue-headers.json")
    ev["multiValueHeaders"].update({k: [v] for k, v in DD.items()})
    write("v-alb-multivalue-dd-tid", ev, "aws-lambda-rust-runtime/example-alb-lambda-target-request-multivalue-headers.json")
    # a header sent twice: ALB multi-value lists both; API Gateway REST lists both and
    # puts the last in `headers`
    ev = load("aws-lambda-rust-runtime/example-alb-lambda-target-request-multivalue-headers.json")
    ev["multiValueHeaders"].update({k: [v] for k, v in DD.items()})
    ev["multiValueHeaders"]["x-datadog-parent-id"] = ["1111111111111111111", DD["x-datadog-parent-id"]]
    write("v-alb-multivalue-parent-twice", ev, "aws-lambda-rust-runtime/example-alb-lambda-target-request-multivalue-headers.json")
    ev = apigw(DD)
    ev["multiValueHeaders"]["x-datadog-parent-id"] = ["1111111111111111111", DD["x-datadog-parent-id"]]
    write("v-apigw-parent-twice", ev, "api-gateway.json")
    write("v-apigw-xray-with-parent-only",
          apigw({"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}),
          "api-gateway.json")
    # x-datadog-tags dropped by the sender (over its 512-byte limit): no _dd.p.tid beside a
    # 128-bit traceparent of the same span
    write("v-apigw-dd-no-tags-traceparent-128",
          apigw({**{k: v for k, v in DD.items() if k != "x-datadog-tags"}, "traceparent": TP, "tracestate": "dd=s:1"}),
          "api-gateway.json")
    write("v-sqs-string-tags-over-512",
          sqs_string({**DD, "x-datadog-tags": f"_dd.p.tid={TID},_dd.p.usr=" + "a" * 520}),
          "sqs-string-msg-attribute.json")
    # VPC Lattice forwards the client's headers; Datadog reads any event's `headers`.
    for name, headers in [("traceparent", {"traceparent": TP}), ("dd", DD)]:
        ev = load("powertools-lambda-python/vpcLatticeV2Event.json")
        ev["headers"].update(headers)
        write(f"v-vpclattice-{name}", ev, "vpcLatticeV2Event.json")
        v1 = {"raw_path": ev["path"], "method": ev["method"], "headers": ev["headers"],
              "query_string_parameters": ev["queryStringParameters"], "body": ev["body"],
              "is_base64_encoded": False}
        write(f"v-vpclattice-v1-{name}", v1, "vpcLatticeV2Event.json as VPC Lattice's 1.0 format")
    # Datadog's Lambda authorizer injection (datadog_lambda.tracing.get_injected_authorizer_data)
    ev = apigw({})
    # The authorizer's own request id, as Datadog's key names it (datadog_lambda.constants
    # Headers.Authorizing_Request_Id): a REST answer with integrationLatency > 0 is fresh.
    injected = {**DD, "x-datadog-parent-span-finish-time": 1720000000000000000,
                "x-datadog-authorizing-requestid": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}
    ev["requestContext"]["authorizer"] = {"principalId": "user", "integrationLatency": 71,
                                          "_datadog": base64.b64encode(json.dumps(injected).encode()).decode()}
    write("v-apigw-authorizer-injected", ev, "api-gateway.json + Datadog authorizer context")
    # No integrationLatency: fresh only when the injected request id is this request's
    # (a cached answer carries the id of the request that ran the authorizer).
    ev = copy.deepcopy(ev)
    del ev["requestContext"]["authorizer"]["integrationLatency"]
    write("v-apigw-authorizer-cached", ev, "api-gateway.json + Datadog authorizer context")
    ev = copy.deepcopy(ev)
    rid = ev["requestContext"]["requestId"]
    same = {**injected, "x-datadog-authorizing-requestid": rid}
    ev["requestContext"]["authorizer"]["_datadog"] = base64.b64encode(json.dumps(same).encode()).decode()
    write("v-apigw-authorizer-same-request", ev, "api-gateway.json + Datadog authorizer context")
    # HTTP API: the context is under authorizer.lambda, and only the request id tells fresh.
    for name, authorizing in [("fresh", None), ("cached", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef")]:
        ev = http_api({})
        data = {**injected, "x-datadog-authorizing-requestid": authorizing or ev["requestContext"]["requestId"]}
        ev["requestContext"]["authorizer"] = {
            "lambda": {"_datadog": base64.b64encode(json.dumps(data).encode()).decode()}}
        write(f"v-httpapi-authorizer-{name}", ev, "http-api.json + Datadog authorizer context")

    # ---------------- Step Functions
    ctx = sfn_ctx()
    exec_id = ctx["Execution"]["Id"]
    legacy = copy.deepcopy(ctx)
    legacy["Execution"]["Input"] = {}
    write("v-sfn-legacy-top", legacy, "states.json (context object at top level, JSONPath Payload.$: $$)")
    write("v-sfn-legacy-payload", {"Payload": legacy}, "states.json (under Payload)")
    nosm = copy.deepcopy(legacy)
    del nosm["StateMachine"]
    write("v-sfn-legacy-no-statemachine", nosm, "states.json")
    rr = copy.deepcopy(legacy)
    rr["State"]["RetryCount"] = 2
    rr["Execution"]["RedriveCount"] = 1
    write("v-sfn-legacy-retry-redrive", rr, "states.json")
    r0 = copy.deepcopy(legacy)
    r0["Execution"]["RedriveCount"] = 1
    write("v-sfn-legacy-redrive-only", r0, "states.json")
    li = copy.deepcopy(legacy)
    li["Execution"]["Input"] = {"_datadog": {"x-datadog-trace-id": "5821803790426892636",
                                             "x-datadog-parent-id": "7431398482019833808",
                                             "x-datadog-sampling-priority": "1",
                                             "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=672a7cb100000000"}}
    write("v-sfn-legacy-input-datadog", li, "states.json")
    lt = copy.deepcopy(legacy)
    lt["Execution"]["Input"] = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    write("v-sfn-legacy-input-traceparent", lt, "states.json")
    lh = copy.deepcopy(legacy)
    lh["Execution"]["Input"] = {"x-datadog-trace-id": "5821803790426892636", "x-datadog-parent-id": "7431398482019833808",
                                "x-datadog-sampling-priority": "1"}
    write("v-sfn-legacy-input-top-dd-headers", lh, "states.json")
    lr = copy.deepcopy(legacy)
    lr["RootExecutionId"] = "arn:aws:states:ca-central-1:425362996713:execution:Parent-abc:0b1a5ab8-5a3c-4c9e-a1fe-111111111111"
    write("v-sfn-legacy-with-rootexecutionid", lr, "states.json (JSONPath with a RootExecutionId member)")
    parent_exec = "arn:aws:states:ca-central-1:425362996713:execution:Parent-abc:0b1a5ab8-5a3c-4c9e-a1fe-111111111111"
    sb = copy.deepcopy(legacy)
    sb["Execution"]["Input"] = {"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parent_exec, "order": 1}
    write("v-sfn-legacy-input-started-by", sb, "states.json (a child StartExecution associated with its parent)")
    pc = copy.deepcopy(legacy)
    parent_ctx = copy.deepcopy(legacy)
    parent_ctx["Execution"]["Id"] = parent_exec
    parent_ctx["State"]["Name"] = "Start child"
    pc["Execution"]["Input"] = {"CONTEXT": parent_ctx}
    write("v-sfn-legacy-input-parent-context", pc, "states.json (the parent's $$ under CONTEXT in the child's input)")
    v1 = load("datadog-lambda-python/states.json")
    nested = copy.deepcopy(v1)
    nested["_datadog"]["RootExecutionId"] = "arn:aws:states:ca-central-1:425362996713:execution:Parent-abc:0b1a5ab8-5a3c-4c9e-a1fe-111111111111"
    write("v-sfn-v1-nested", nested, "states.json")
    lam = copy.deepcopy(v1)
    del lam["_datadog"]["RootExecutionId"]
    lam["_datadog"]["x-datadog-trace-id"] = "5821803790426892636"
    lam["_datadog"]["x-datadog-tags"] = "_dd.p.dm=-0,_dd.p.tid=672a7cb100000000"
    write("v-sfn-v1-lambda-root", lam, "states.json")
    lam2 = copy.deepcopy(lam)
    lam2["_datadog"]["x-datadog-tags"] = "_dd.p.dm=-0"
    write("v-sfn-v1-lambda-root-no-tid", lam2, "states.json")
    noroot = copy.deepcopy(v1)
    del noroot["_datadog"]["RootExecutionId"]
    write("v-sfn-v1-no-root", noroot, "states.json")
    pv1 = {"Payload": copy.deepcopy(v1)}
    write("v-sfn-v1-under-payload", pv1, "states.json under Payload")
    rv1 = copy.deepcopy(v1)
    rv1["_datadog"]["State"]["RetryCount"] = 1
    write("v-sfn-v1-retry", rv1, "states.json")
    arn, uuid = sha_high_nibble_zero_execution()
    hz = copy.deepcopy(v1)
    hz["_datadog"]["Execution"]["Id"] = arn
    hz["_datadog"]["Execution"]["Name"] = uuid
    hz["_datadog"]["RootExecutionId"] = arn
    write("v-sfn-v1-tid-15-hex-digits", hz, "states.json")
    # a context object carried in messages
    for name, fn in [("sqs-string", lambda c: sqs_string(c)), ("sqs-binary", lambda c: sqs_binary(c)),
                     ("sns-string", lambda c: sns_attr(c)), ("sns-binary", lambda c: sns_attr(c, True)),
                     ("eventbridge", lambda c: eventbridge(c)), ("eventbridge-sqs", lambda c: eventbridge_sqs(c)),
                     ("sns-sqs", lambda c: sns_sqs(c))]:
        write(f"v-sfn-in-{name}-v1", fn(copy.deepcopy(v1["_datadog"])), f"states.json _datadog in {name}")
        write(f"v-sfn-in-{name}-legacy", fn(copy.deepcopy(legacy)), f"states.json context object in {name}")
    write("v-sfn-in-sqs-string-no-statemachine", sqs_string(copy.deepcopy(nosm)), "states.json")
    write("v-sfn-in-kinesis-v1", kinesis({"foo": "bar", "_datadog": copy.deepcopy(v1["_datadog"])}), "kinesis.json + states.json")

    li2 = copy.deepcopy(legacy)
    li2["Execution"]["Input"] = {"_datadog": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                              "tracestate": "dd=s:1"}}
    write("v-sfn-legacy-input-datadog-traceparent", li2, "states.json")
    li3 = copy.deepcopy(legacy)
    li3["Execution"]["Input"] = {"_datadog": {"x-datadog-trace-id": "5821803790426892636"}}
    write("v-sfn-legacy-input-datadog-no-tags", li3, "states.json")
    ia = copy.deepcopy(legacy)
    ia["Execution"]["Input"] = [1, 2, 3]
    write("v-sfn-legacy-input-array", ia, "states.json")
    up = copy.deepcopy(legacy)
    up["Payload"] = {"orderId": "42"}
    write("v-sfn-legacy-top-with-user-payload-key", up, "states.json (JsonMerge($$, $) where $ has a Payload key)")
    both = copy.deepcopy(lam)
    both["_datadog"]["RootExecutionId"] = v1["_datadog"]["RootExecutionId"]
    write("v-sfn-v1-lambda-root-and-root-id", both, "states.json")
    write("v-sfn-in-sqs-string-v1-lambda-root", sqs_string(copy.deepcopy(lam["_datadog"])), "states.json in sqs")
    write("v-sfn-in-eventbridge-v1-lambda-root", eventbridge(copy.deepcopy(lam["_datadog"])), "states.json in eventbridge")
    ev = load("datadog-lambda-python/sqs-java-upstream.json")
    ev["Records"][0]["attributes"]["AWSTraceHeader"] = "Root=1-65eb7350-000000006dfd06bf489aa4e5;Parent=48cc02b6aafae897;Sampled=?"
    write("v-sqs-awstraceheader-dd-sampled-question", ev, "sqs-java-upstream.json")
    ev = load("datadog-lambda-python/sqs-java-upstream.json")
    ev["Records"][0]["attributes"]["AWSTraceHeader"] = ("Root=1-65eb7350-000000006dfd06bf489aa4e5;Parent=48cc02b6aafae897;"
                                                        "Sampled=1;Lineage=a87bd80c:1|68fd508a:5")
    write("v-sqs-awstraceheader-dd-lineage", ev, "sqs-java-upstream.json")
    write("v-httpapi-traceparent-unsampled", http_api({"traceparent": TP[:-2] + "00"}), "http-api.json")
    write("v-httpapi-dd-priority-zero", http_api({**DD, "x-datadog-sampling-priority": "0"}), "http-api.json")

    # ---------------- S3 pointers
    s3 = load("datadog-lambda-python/s3.json")

    def s3v(name, key=None, etag=None, event_name=None, drop_etag=False):
        ev = copy.deepcopy(s3)
        o = ev["Records"][0]["s3"]["object"]
        if key is not None:
            o["key"] = key
        if etag is not None:
            o["eTag"] = etag
        if drop_etag:
            del o["eTag"]
        if event_name:
            ev["Records"][0]["eventName"] = event_name
        write(name, ev, "s3.json")

    s3v("v-s3-key-space-plus", key="my+report+2024.csv")
    s3v("v-s3-key-unicode-escaped", key="dir/caf%C3%A9+%E4%BD%A0%E5%A5%BD.txt")
    s3v("v-s3-key-literal-plus", key="a%2Bb%3Dc.txt")
    s3v("v-s3-key-percent-sign", key="100%25+done.txt")
    s3v("v-s3-etag-quoted", etag='"0123456789abcdef0123456789abcdef"')
    s3v("v-s3-etag-multipart", etag="0123456789abcdef0123456789abcdef-5")
    s3v("v-s3-copy", event_name="ObjectCreated:Copy")
    s3v("v-s3-delete", event_name="ObjectRemoved:Delete", drop_etag=True)

    # ---------------- DynamoDB pointers
    ddb = load("datadog-lambda-python/dynamodb.json")

    def ddbv(name, keys, arn=None):
        ev = copy.deepcopy(ddb)
        ev["Records"] = ev["Records"][:1]
        ev["Records"][0]["dynamodb"]["Keys"] = keys
        if arn:
            ev["Records"][0]["eventSourceARN"] = arn
        write(name, ev, "dynamodb.json")

    ddbv("v-ddb-s", {"pk": {"S": "order#1 ünïcode"}})
    ddbv("v-ddb-n-decimal", {"Id": {"N": "123.450"}})
    ddbv("v-ddb-n-exponent", {"Id": {"N": "1E+2"}})
    ddbv("v-ddb-b", {"blob": {"B": "aGVsbG8gd29ybGQ="}})
    ddbv("v-ddb-s-n", {"sk": {"N": "42"}, "pk": {"S": "user#7"}})
    ddbv("v-ddb-order-bytes", {"éclair": {"S": "x"}, "zeta": {"S": "y"}})
    ddbv("v-ddb-order-case", {"pk": {"S": "x"}, "PK": {"S": "y"}})
    ddbv("v-ddb-s-b", {"pk": {"S": "k"}, "sk": {"B": "AAEC"}})
    ddbv("v-ddb-aws-cn", {"Id": {"N": "101"}},
         arn="arn:aws-cn:dynamodb:cn-north-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899")
    ddbv("v-ddb-aws-us-gov", {"Id": {"N": "101"}},
         arn="arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899")



def build_cases():
    """{name: (event, origin)}: the fixtures unchanged (`fx-`) and the variants (`v-`)."""
    if not _CASES:
        copy_fixtures()
        variants()
    return dict(_CASES)


# ------------------------------------------------------------------------- the oracle

ORACLE = r'''
import json, sys
from datadog_lambda import tracing
from datadog_lambda.trigger import parse_event_source
from datadog_lambda.span_pointers import calculate_span_pointers


class LambdaContext:
    client_context = None  # an asynchronous invocation


def context(event):
    try:
        ctx, _source, _es = tracing.extract_dd_trace_context(event, LambdaContext())
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}"}
    if not tracing._is_context_complete(ctx):
        return None
    high = ctx.trace_id >> 64
    raw_tid = ctx._meta.get("_dd.p.tid")
    if high == 0 and raw_tid:
        try:
            high = int(raw_tid, 16)
        except ValueError:
            high = 0
    return {"trace_id": str(ctx.trace_id & (2**64 - 1)),
            "_dd.p.tid": f"{high:016x}" if high else None,
            "parent_id": str(ctx.span_id),
            "sampled": ctx.sampling_priority > 0,
            "raw_tid": raw_tid}


def pointers(event):
    source = parse_event_source(event)
    records = event.get("Records")
    if not isinstance(records, list):
        records = [None]
    out = []
    for record in records:
        one = event if record is None else {**event, "Records": [record]}
        out.append([[p.pointer_kind, p.pointer_direction.value, p.pointer_hash]
                    for p in calculate_span_pointers(source, one, True)])
    return out


cases = json.load(open(sys.argv[1], encoding="utf-8"))
result = {}
for name, event in cases.items():
    result[name] = {"context": context(event), "pointers": pointers(event),
                    "source": parse_event_source(event).to_string()}
json.dump(result, open(sys.argv[2], "w", encoding="utf-8"))
'''


def oracle_env():
    """No DD_* or Lambda settings from the caller: Datadog's defaults, outside Lambda."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DD_", "AWS_LAMBDA_", "_X_AMZN", "LAMBDA_"))}
    env["DD_TRACE_ENABLED"] = "false"
    env["DD_INSTRUMENTATION_TELEMETRY_ENABLED"] = "false"
    env["DD_REMOTE_CONFIGURATION_ENABLED"] = "false"
    return env


def run_datadog(cases, workdir, python=DATADOG_PYTHON):
    """Datadog's results for {name: event}, computed in a subprocess."""
    src, dst = Path(workdir) / "cases.json", Path(workdir) / "datadog.json"
    src.write_text(json.dumps(cases), encoding="utf-8")
    proc = subprocess.run([python, "-c", ORACLE, str(src), str(dst)], env=oracle_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"Datadog oracle failed:\n{proc.stderr[-4000:]}"
    return json.loads(dst.read_text(encoding="utf-8"))


def datadog_versions(python=DATADOG_PYTHON):
    assert Path(python).exists(), f"{python} is missing: run ./build.sh test (it makes .venv-datadog)"
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in %r}))" % list(PINS))
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=oracle_env())
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1:]
    return json.loads(proc.stdout), None


# ------------------------------------------------------------------------------ relink

def run_relink(relink, path):
    event = subprocess.run([str(relink), "event", str(path)], capture_output=True, text=True, timeout=60)
    if event.returncode != 0:
        return {"error": (event.stdout + event.stderr).strip()}
    otlp = subprocess.run([str(relink), "event", str(path), "--otlp"], capture_output=True, text=True, timeout=60)
    decoded = json.loads(event.stdout)
    links = {}
    if otlp.returncode == 0:
        for rs in json.loads(otlp.stdout).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    for link in span.get("links", []):
                        attrs = {a["key"]: next(iter(a["value"].values())) for a in link.get("attributes", [])}
                        if "ptr.hash" in attrs:
                            links.setdefault(attrs["ptr.hash"], set()).add((attrs.get("ptr.kind"), attrs.get("ptr.dir")))
    return {"decoded": decoded, "links": links}


def effective_context(item):
    """The context relink parents the item's inferred span under: the innermost decoded
    payload's first context, else the item's first."""
    payload = item.get("payload") or {}
    if payload.get("items"):
        inner = effective_context(payload["items"][0])
        if inner:
            return inner
    contexts = item.get("contexts") or []
    return contexts[0] if contexts else None


def item_hashes(item):
    """{kind: [hash, ...]} of an item's S3/DynamoDB pointers, decoded payloads included."""
    out = {}
    for p in item.get("pointers") or []:
        if p.get("kind") in ("aws.s3.object", "aws.dynamodb.item"):
            out.setdefault(p["kind"], []).extend(p.get("hashes", []))
    payload = item.get("payload") or {}
    for inner in payload.get("items") or []:
        for k, v in item_hashes(inner).items():
            out.setdefault(k, []).extend(v)
    return out


def relink_context(result):
    items = result["decoded"].get("items") or []
    ctx = effective_context(items[0]) if items else None
    if ctx is None:
        return None
    dd = ctx["datadog"]
    return {"trace_id": dd["trace_id"], "_dd.p.tid": dd.get("_dd.p.tid"), "parent_id": dd["parent_id"],
            "sampled": ctx.get("sampled"), "format": ctx["format"], "carrier": ctx["carrier"]}


FIELDS = ("trace_id", "_dd.p.tid", "parent_id", "sampled")


def compare_context(dd, rl):
    """(verdict, detail)."""
    if isinstance(dd, dict) and "error" in dd:
        return ("datadog-error" if rl else "both-none"), dd["error"]
    if dd is None and rl is None:
        return "both-none", ""
    if dd is None:
        return "datadog-none", ""
    if rl is None:
        return "MISMATCH", "relink: no context"
    diff = [f for f in FIELDS if dd.get(f) != rl.get(f)]
    return ("MISMATCH", "differs: " + ",".join(diff)) if diff else ("match", "")


def compare_pointers(dd_records, relink_result):
    items = relink_result["decoded"].get("items") or []
    links = relink_result["links"]
    problems, relink_has, dd_has = [], False, False
    for i, dd_ptrs in enumerate(dd_records):
        rl = item_hashes(items[i]) if i < len(items) else {}
        relink_has = relink_has or any(rl.values())
        for kind, direction, h in dd_ptrs:
            dd_has = True
            if h not in rl.get(kind, []):
                problems.append(f"record {i}: {kind} {h} not in relink {rl.get(kind, [])}")
            elif (kind, direction) not in links.get(h, set()):
                problems.append(f"record {i}: {h} written by relink as {sorted(links.get(h, set()))}, "
                                f"Datadog ({kind}, {direction})")
    if problems:
        return "MISMATCH", "; ".join(problems)
    if dd_has:
        return "match", ""
    return ("datadog-none" if relink_has else "both-none"), ""


# ------------------------------------------------------------------------------ verdicts

# (case, aspect) -> why relink differs from Datadog on purpose. Asserted to still differ: a
# change on either side must be looked at (then the case moves out of this list).
_XRAY_TID = ("AWSTraceHeader written by a Datadog tracer (Root=1-{8 hex}-00000000{16 hex}): Datadog keeps only "
             "the low 64 bits (datadog_lambda/tracing.py extract_context_from_sqs_or_sns_event_or_context, "
             "`Context(trace_id=int(trace_id_parts[2][8:], 16), ...)`, no _dd.p.tid), enough for its "
             "backend, which joins on 64 bits. relink keeps Root's first 64 bits as _dd.p.tid "
             "(src/propagation/xray.rs parse_root): they are the producer's own high bits (a Datadog "
             "tracer's 128-bit id is epoch, zeros, then the low 64), and an OTLP backend keys traces "
             "by all 128")
_SFN_INPUT = ("JSONPath context object: Datadog's trace id comes only from "
              "Execution.Input._datadog.x-datadog-trace-id, else SHA-256(Execution.Id) "
              "(datadog_lambda/tracing.py extract_context_from_step_functions, legacy branch). relink "
              "also joins an execution started with a traceparent or x-datadog-* headers in its input "
              "(an OpenTelemetry caller's; src/stepfn/upstream.rs place, read for the Lambda by "
              "src/event/stepfunctions_context.rs read), the same way for the Lambda and the state spans")
_SFN_NESTED = ("JSONPath context object of a nested execution whose input names its parent "
               "(AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID, or the parent's $$ under CONTEXT): Datadog's "
               "legacy branch hashes the child's Execution.Id (datadog_lambda/tracing.py "
               "extract_context_from_step_functions). relink places the child's state spans in the "
               "parent's trace (src/stepfn/upstream.rs place) and its Lambdas compute that trace too "
               "(src/event/stepfunctions_context.rs read, StepFunctionsContext::input_trace_id), so "
               "the Lambda lands under its state span; Datadog-traced Lambdas need Datadog's v1 "
               "_datadog with RootExecutionId for that")
_AMBIGUOUS = ("x-datadog-parent-id sent twice with two values: Datadog takes one (the first multi-value, "
              "or API Gateway's single-valued `headers`, which holds the last: datadog_lambda/trigger.py "
              "resolve_multivalue_headers). relink takes neither: either could be a forgery or a stale "
              "copy a proxy appended to, so the request joins no trace (src/propagation/carrier.rs, "
              "src/event/http_request.rs)")
DIVERGENCES = {
    ("fx-datadog-lambda-python-sqs-java-upstream", "context"): _XRAY_TID,
    ("fx-datadog-lambda-python-sns-sqs-java-upstream", "context"): _XRAY_TID,
    ("v-sqs-awstraceheader-dd-sampled0", "context"): _XRAY_TID,
    ("v-sqs-awstraceheader-dd-lineage", "context"): _XRAY_TID,
    ("v-apigw-dd-and-traceparent-other-trace", "context"): (
        "x-datadog-* and a traceparent of another trace: Datadog keeps the Datadog context (its first "
        "extract style) and only links the W3C one (ddtrace/propagation/http.py _resolve_contexts). "
        "relink takes the W3C context first (src/propagation/carrier.rs finish): two trace ids mean two "
        "tracers on the way, and the one that wrote traceparent (which every OpenTelemetry SDK "
        "propagates) is the one an OTLP backend holds"),
    ("v-apigw-dd-no-tags-traceparent-128", "context"): (
        "x-datadog-* without x-datadog-tags beside a 128-bit traceparent naming the same span: Datadog "
        "keeps its 64-bit context, so no _dd.p.tid (ddtrace/propagation/http.py _resolve_contexts). "
        "relink takes the traceparent's full 128-bit id, the trace's real id in an OTLP backend"),
    ("v-alb-multivalue-parent-twice", "context"): _AMBIGUOUS,
    ("v-apigw-parent-twice", "context"): _AMBIGUOUS,
    ("v-sfn-legacy-input-traceparent", "context"): _SFN_INPUT,
    ("v-sfn-legacy-input-top-dd-headers", "context"): _SFN_INPUT,
    ("v-sfn-legacy-input-datadog-traceparent", "context"): _SFN_INPUT,
    ("v-sfn-legacy-input-started-by", "context"): _SFN_NESTED,
    ("v-sfn-legacy-input-parent-context", "context"): _SFN_NESTED,
    ("v-sfn-legacy-with-rootexecutionid", "context"): (
        "a context object without serverless-version but with RootExecutionId (a payload a user "
        "built; `$$` has none): Datadog's legacy branch hashes Execution.Id "
        "(datadog_lambda/tracing.py extract_context_from_step_functions). relink hashes "
        "RootExecutionId (src/stepfn/ids.rs trace_id_for), as Datadog does for its own payload with "
        "it, so a nested execution stays in its root's trace"),
}

# (case, aspect) -> Datadog's code finds nothing (or raises) where relink finds a context or
# pointer. Asserted to stay so, so a change on either side is noticed.
DATADOG_NONE = {
    # contexts
    ("v-apigw-dd-no-priority", "context"): "no x-datadog-sampling-priority: _is_context_complete is false",
    ("v-sqs-string-no-priority", "context"): "no x-datadog-sampling-priority: _is_context_complete is false",
    ("v-eventbridge-no-priority", "context"): "no x-datadog-sampling-priority: _is_context_complete is false",
    ("v-apigw-xray-with-parent-only", "context"): "X-Amzn-Trace-Id is not an HTTP extract style",
    ("v-sqs-awstraceheader-plain-xray", "context"): "AWSTraceHeader read only with the 00000000 Datadog padding",
    ("v-sqs-awstraceheader-dd-sampled-question", "context"): "float('?') raises; falls back to nothing",
    ("v-eventbridge-sqs-no-datadog", "context"): "EventBridge body without _datadog: AWSTraceHeader not read",
    ("v-sqs-traceparent-attribute", "context"): "only the _datadog message attribute is read",
    ("v-sns-traceparent-attribute", "context"): "only the _datadog message attribute is read",
    ("v-kinesis-non-ascii-data", "context"): "kinesis data decoded as ASCII (tracing.py extract_context_from_kinesis_event)",
    ("v-sfn-in-kinesis-v1", "context"): "Kinesis _datadog is not checked for a Step Functions context",
    ("v-sfn-in-sqs-string-no-statemachine", "context"): "is_step_function_event needs StateMachine",
    ("v-sfn-legacy-no-statemachine", "context"): "is_step_function_event needs StateMachine",
    ("v-sfn-legacy-input-array", "context"): "Execution.Input not an object: .get raises, nothing",
    ("v-sfn-legacy-top-with-user-payload-key", "context"): "event.get('Payload', event) picks the user's Payload",
    ("v-sfn-v1-no-root", "context"): "v1 without RootExecutionId or x-datadog-trace-id: hashing None raises",
    ("fx-datadog-lambda-extension-msk_event_with_headers", "context"):
        "Kafka record headers: the Python library reads no Kafka event; Datadog's extension "
        "(bottlecap msk_event.rs, whose payload this is) joins trace 1497116011738644768, parent "
        "2239801583077304042, as relink does",
    ("fx-datadog-lambda-extension-sqs_event_binary_custom_label", "context"):
        "dataType 'Binary.custom': the Python library reads 'Binary' only; Datadog's extension "
        "(bottlecap sqs_event.rs, whose payload this is) reads custom labels, as relink does",
    # pointers
    ("fx-aws-lambda-rust-runtime-example-dynamodb-event-record-with-optional-fields", "pointers"):
        "a single stream record (no Records): not a DynamoDB event to Datadog",
    ("fx-powertools-lambda-python-s3EventBridgeNotificationObjectCreatedEvent", "pointers"): "S3 via EventBridge",
    ("fx-powertools-lambda-python-s3SqsEvent", "pointers"): "S3 notification inside SQS",
    ("fx-powertools-lambda-typescript-kinesis-dynamodb-stream", "pointers"):
        "Kinesis Data Streams for DynamoDB: Datadog sees a Kinesis event; relink reads the "
        "DynamoDB change each record carries",
    ("v-s3-etag-quoted", "pointers"): "quoted ETag refused (ddtrace span_pointers/s3.py _aws_s3_object_span_pointer_hash)",
    ("v-ddb-aws-cn", "pointers"): "eventSourceARN partition must be 'aws' (datadog_lambda/span_pointers.py)",
    ("v-ddb-aws-us-gov", "pointers"): "eventSourceARN partition must be 'aws' (datadog_lambda/span_pointers.py)",
}


def _names():
    return sorted(build_cases())


# --------------------------------------------------------------------------------- tests

@pytest.fixture(scope="session")
def relink_bin():
    """The relink CLI; missing, the tests fail (never skip)."""
    assert RELINK.exists(), f"{RELINK} not built: run ./build.sh"
    return RELINK


@pytest.fixture(scope="session")
def case_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("datadog-oracle-cases")
    paths = {}
    for name, (event, _origin) in build_cases().items():
        paths[name] = out / f"{name}.json"
        paths[name].write_text(json.dumps(event, ensure_ascii=False), encoding="utf-8")
    return paths


@pytest.fixture(scope="session")
def datadog(tmp_path_factory):
    """Datadog's results for every case; a missing or different datadog-lambda/ddtrace fails."""
    versions, error = datadog_versions()
    pins = " ".join(f"{k}=={v}" for k, v in PINS.items())
    assert versions == PINS, f"needs {pins} in this Python (found {versions or error}): pip install {pins}"
    cases = {name: event for name, (event, _origin) in build_cases().items()}
    return run_datadog(cases, tmp_path_factory.mktemp("datadog-oracle"))


@pytest.fixture(scope="session")
def relink(relink_bin, case_files):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = run_relink(relink_bin, case_files[name])
            assert "error" not in cache[name], f"relink event {case_files[name]}: {cache[name]['error']}"
        return cache[name]

    return get


def _check(aspect, name, verdict, detail, dd, rl):
    key = (name, aspect)
    if key in DIVERGENCES:
        assert verdict == "MISMATCH", (
            f"{name}: listed as a deliberate divergence ({DIVERGENCES[key]}), now {verdict} {detail}\n"
            f"datadog: {dd}\nrelink:  {rl}")
    elif key in DATADOG_NONE:
        assert verdict in ("datadog-none", "datadog-error"), (
            f"{name}: listed as Datadog finding nothing ({DATADOG_NONE[key]}), now {verdict} {detail}\n"
            f"datadog: {dd}\nrelink:  {rl}")
    else:
        assert verdict in ("match", "both-none"), f"{name} {aspect}: {verdict} {detail}\ndatadog: {dd}\nrelink:  {rl}"


def test_pinned_versions():
    versions, error = datadog_versions()
    assert versions == PINS, f"found {versions or error}"


@pytest.mark.parametrize("name", _names())
def test_context_equals_datadog(name, datadog, relink):
    dd = datadog[name]["context"]
    rl = relink_context(relink(name))
    verdict, detail = compare_context(dd, rl)
    _check("context", name, verdict, detail, dd, rl)


@pytest.mark.parametrize("name", _names())
def test_pointers_equal_datadog(name, datadog, relink):
    dd = datadog[name]["pointers"]
    result = relink(name)
    verdict, detail = compare_pointers(dd, result)
    items = result["decoded"].get("items") or []
    _check("pointers", name, verdict, detail, dd, [item_hashes(i) for i in items])


def test_lists_name_existing_cases():
    names = set(build_cases())
    stale = [k for k in list(DIVERGENCES) + list(DATADOG_NONE) if k[0] not in names]
    assert not stale, stale
