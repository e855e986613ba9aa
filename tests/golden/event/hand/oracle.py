"""Expected ids for the hand-made event cases, computed without relink.

For every Step Functions context object a case carries (at the top level, under `Payload`
or `_datadog`, or in a message: SQS `messageAttributes._datadog` String or Binary, SNS
`MessageAttributes._datadog`, EventBridge `detail._datadog`, SNS and EventBridge inside an
SQS body), the ids Datadog's Lambda library for Node computes for the state span its
consumer joins (datadog-lambda-js src/trace/step-function-service.ts, published under
Apache-2.0; the algorithm is restated here, no code is copied):

  H(s) = SHA-256 of the UTF-8 string s; high64/low64 = big-endian u64 of bytes 0..8 / 8..16
  with bit 63 cleared (0 becomes 1)
  trace id (x-datadog-trace-id, decimal) = low64(H(root)), _dd.p.tid = hex(high64(H(root)))
    root = RootExecutionId for the `serverless-version: v1` form, else Execution.Id;
    a v1 object without RootExecutionId but with x-datadog-trace-id and x-datadog-tags, or
    a legacy object whose Execution.Input._datadog has both, gives that trace instead
  parent id (decimal) = high64(H("{Execution.Id}#{State.Name}#{State.EnteredTime}")), with
    "#{RetryCount}#{RedriveCount}" appended when either is not 0

and for every S3 object (not in the body of a dead letter, which holds a failed invocation's
event, not the trigger of the message's consumer) the Datadog span pointer hashes: sha256("bucket|key|etag")[:32]
with the key URL-decoded (what Datadog's producers hash) and, when different, as the
notification wrote it (what Datadog's Lambda consumers hash).

Writes oracle.json beside each case's input.json; tests/golden_event.rs checks relink's
output against it. Run from the repository root: python3 tests/golden/event/hand/oracle.py
"""

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import unquote_plus

HAND = Path(__file__).resolve().parent


def halves(text):
    digest = hashlib.sha256(text.encode()).digest()
    high = int.from_bytes(digest[:8], "big") & (2**63 - 1)
    low = int.from_bytes(digest[8:16], "big") & (2**63 - 1)
    return high or 1, low or 1


def is_context(obj):
    return (isinstance(obj, dict)
            and isinstance(obj.get("Execution", {}).get("Id"), str)
            and isinstance(obj.get("State", {}).get("Name"), str)
            and isinstance(obj.get("State", {}).get("EnteredTime"), str))


def ptid(tags):
    for tag in tags.split(","):
        if tag.startswith("_dd.p.tid="):
            return tag.split("=", 1)[1]
    return ""


def ids(ctx):
    execution = ctx["Execution"]["Id"]
    retry = str(ctx["State"].get("RetryCount", 0))
    redrive = str(ctx["Execution"].get("RedriveCount", 0))
    upstream = None
    if ctx.get("serverless-version") == "v1":
        if isinstance(ctx.get("RootExecutionId"), str):
            root = ctx["RootExecutionId"]
        else:
            upstream = ctx
            root = None
    else:
        root = execution
        dd = (ctx["Execution"].get("Input") or {}).get("_datadog") if isinstance(ctx["Execution"].get("Input"), dict) else None
        if isinstance(dd, dict) and isinstance(dd.get("x-datadog-trace-id"), str) and isinstance(dd.get("x-datadog-tags"), str):
            upstream = dd
    if upstream is not None:
        trace, tid = upstream["x-datadog-trace-id"], ptid(upstream["x-datadog-tags"])
    else:
        high, low = halves(root)
        trace, tid = str(low), f"{high:016x}"
    suffix = f"#{retry}#{redrive}" if (retry, redrive) != ("0", "0") else ""
    parent = halves(f"{execution}#{ctx['State']['Name']}#{ctx['State']['EnteredTime']}{suffix}")[0]
    return {"trace_id": trace, "_dd.p.tid": tid, "parent_id": str(parent)}


def attribute_json(attribute, string_key, binary_key, type_key):
    if not isinstance(attribute, dict):
        return None
    kind = attribute.get(type_key)
    if kind == "String":
        text = attribute.get(string_key)
    elif kind == "Binary":
        text = base64.b64decode(attribute.get(binary_key)).decode()
    else:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def body_json(text):
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class Found:
    def __init__(self):
        self.contexts = []
        self.s3 = []

    def context(self, obj):
        if is_context(obj):
            self.contexts.append(ids(obj))

    def event(self, event):
        if isinstance(event, list):
            for record in event:
                self.record(record)
            return
        if not isinstance(event, dict):
            return
        if "Records" in event:
            for record in event["Records"]:
                self.record(record)
            return
        if "eventSource" in event:
            self.record(event)
            return
        if "detail-type" in event:
            self.context((event.get("detail") or {}).get("_datadog"))
            return
        payload = event.get("Payload")
        if isinstance(payload, dict) and (isinstance(payload.get("_datadog"), dict) or is_context(payload)):
            event = payload
        if isinstance(event.get("_datadog"), dict):
            event = event["_datadog"]
        self.context(event)

    def record(self, record):
        source = record.get("eventSource") or record.get("EventSource")
        if source == "aws:sqs":
            attrs = record.get("messageAttributes") or {}
            self.context(attribute_json(attrs.get("_datadog"), "stringValue", "binaryValue", "dataType"))
            body = body_json(record.get("body"))
            # A dead letter (Lambda's RequestID, ErrorCode and ErrorMessage attributes) holds
            # a failed invocation's event: that event did not trigger this message's consumer.
            if body is None or {"RequestID", "ErrorCode", "ErrorMessage"} <= attrs.keys():
                return
            if body.get("Type") == "Notification":
                self.sns(body)
            elif "Records" in body or "detail-type" in body:
                self.event(body)
        elif source == "aws:sns":
            self.sns(record["Sns"])
        elif source == "aws:s3":
            obj, bucket = record["s3"]["object"], record["s3"]["bucket"]["name"]
            etag = obj.get("eTag", "").strip('"')
            raw = obj["key"]
            for key in dict.fromkeys([unquote_plus(raw), raw]):
                self.s3.append(hashlib.sha256(f"{bucket}|{key}|{etag}".encode()).hexdigest()[:32])

    def sns(self, sns):
        attrs = sns.get("MessageAttributes") or {}
        self.context(attribute_json(attrs.get("_datadog"), "Value", "Value", "Type"))
        message = body_json(sns.get("Message"))
        if message is not None and "Records" in message:
            self.event(message)


def main():
    for case in sorted(p.parent for p in HAND.glob("*/input.json")):
        found = Found()
        found.event(json.loads((case / "input.json").read_text()))
        if not found.contexts and not found.s3:
            continue
        out = {"stepfunctions_contexts": found.contexts, "s3_hashes": found.s3}
        (case / "oracle.json").write_text(json.dumps(out, indent=2) + "\n")
        print(case.name, out)


if __name__ == "__main__":
    main()
