"""Builds the hand-made event cases from the real fixtures in tests/fixtures/.

Each case is a real payload with the one change its folder name says; see README.md.
Run from the repository root: python3 tests/golden/event/hand/make_cases.py
The inputs are checked in; this script documents how they were made.
"""

import base64
import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
FIXTURES = ROOT / "tests/fixtures"
HAND = ROOT / "tests/golden/event/hand"


def fixture(path):
    return json.loads((FIXTURES / path).read_text())


def write(case, value):
    folder = HAND / case
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.json").write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def sqs_context_text(path):
    """The `_datadog` String attribute of the first record of a datadog-lambda-js SQS case."""
    return fixture(path)["Records"][0]["messageAttributes"]["_datadog"]["stringValue"]


def main():
    sfn_sqs = fixture("datadog-lambda-js/sfn-sqs.json")
    record = sfn_sqs["Records"][0]
    sqs_ctx = sqs_context_text("datadog-lambda-js/sfn-sqs.json")
    sns_sqs_ctx = sqs_context_text("datadog-lambda-js/sfn-sns-sqs.json")

    # A batch: the SQS state's message with its context as a Binary attribute (SNS raw
    # delivery maps a Binary SNS attribute this way), and a message from another
    # execution's state as a String attribute.
    binary = copy.deepcopy(record)
    binary["messageAttributes"]["_datadog"] = {
        "binaryValue": base64.b64encode(sqs_ctx.encode()).decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    other = copy.deepcopy(record)
    other["messageId"] = "9b3c2d4e-0f1a-4b5c-8d7e-6f5a4b3c2d1e"
    other["messageAttributes"]["_datadog"]["stringValue"] = sns_sqs_ctx
    write("sqs-stepfunctions-batch-binary-and-string", {"Records": [binary, other]})

    # SNS to SQS without raw delivery: the SQS body is the SNS notification envelope, whose
    # MessageAttributes hold the SNS state's context (powertools snsSqsEvent.json with the
    # envelope's attributes of datadog-lambda-js sfn-sns.json).
    sns = fixture("datadog-lambda-js/sfn-sns.json")["Records"][0]["Sns"]
    envelope_event = fixture("powertools-lambda-python/snsSqsEvent.json")
    envelope = json.loads(envelope_event["Records"][0]["body"])
    envelope["MessageAttributes"] = sns["MessageAttributes"]
    envelope["TopicArn"] = sns["TopicArn"]
    envelope_event["Records"][0]["body"] = json.dumps(envelope, indent=2)
    write("sqs-sns-envelope-stepfunctions", envelope_event)

    # EventBridge Pipes: a batch of SQS messages as a bare array, each carrying a state's
    # context (the SQS state's, twice sent: two messages of one state).
    second = copy.deepcopy(record)
    second["messageId"] = "5c1e0f2a-3b4d-4e6f-9a8b-7c6d5e4f3a2b"
    write("pipes-sqs-stepfunctions", [record, second])

    # Pipes batches of stream records, and single records.
    write("pipes-kinesis", fixture("powertools-lambda-python/kinesisStreamEvent.json")["Records"])
    write("pipes-dynamodb", fixture("powertools-lambda-python/dynamoStreamEvent.json")["Records"])
    write("dynamodb-single-record",
          fixture("aws-lambda-rust-runtime/example-dynamodb-event.json")["Records"][0])
    write("sqs-single-record", fixture("datadog-lambda-python/sqs-string-msg-attribute.json")["Records"][0])
    write("kinesis-single-record",
          fixture("aws-lambda-rust-runtime/example-kinesis-event.json")["Records"][0])
    sqs = fixture("powertools-lambda-python/sqsEvent.json")["Records"][0]
    kinesis = fixture("powertools-lambda-python/kinesisStreamEvent.json")["Records"][0]
    write("pipes-mixed-array", [sqs, sqs, kinesis])

    # An S3 notification with the key URL-encoded as the example
    # (aws-lambda-rust-runtime example-s3-event.json, key `summer trip/1.jpg`).
    s3 = fixture("aws-lambda-rust-runtime/example-s3-event.json")
    s3["Records"][0]["s3"]["object"]["key"] = "summer+trip%2F1.jpg"
    write("s3-urlencoded-key", s3)

    # A state invoking a Lambda by ARN with the context object as its Payload, and the
    # same state redriven (datadog-lambda-js step-function.spec.ts payloads).
    payload = {
        "Execution": {
            "Id": "arn:aws:states:sa-east-1:425362996713:execution:abhinav-activity-state-machine:72a7ca3e-901c-41bb-b5a3-5f279b92a316",
            "Name": "72a7ca3e-901c-41bb-b5a3-5f279b92a316",
            "RoleArn": "arn:aws:iam::425362996713:role/service-role/StepFunctions-abhinav-activity-state-machine-role-22jpbgl6j",
            "StartTime": "2024-12-04T19:38:04.069Z",
        },
        "State": {"Name": "Lambda Invoke", "EnteredTime": "2024-12-04T19:38:04.118Z", "RetryCount": 0},
        "StateMachine": {
            "Id": "arn:aws:states:sa-east-1:425362996713:stateMachine:abhinav-activity-state-machine",
            "Name": "abhinav-activity-state-machine",
        },
    }
    write("stepfunctions-payload", {"Payload": payload})
    redriven = copy.deepcopy(payload)
    redriven["Execution"]["RedriveCount"] = 1
    write("stepfunctions-redriven", redriven)

    # EventBridge PutEvents from a state of an execution a Lambda started: the JSONata
    # `_datadog` form with the upstream trace instead of RootExecutionId (datadog-lambda-js
    # sfn-eventbridge.json with the lambda-root fields of step-function-service.spec.ts).
    lambda_root = fixture("datadog-lambda-js/sfn-eventbridge.json")
    dd = lambda_root["detail"]["_datadog"]
    del dd["RootExecutionId"]
    dd["x-datadog-trace-id"] = "10593586103637578129"
    dd["x-datadog-tags"] = "_dd.p.dm=-0,_dd.p.tid=6734e7c300000000"
    write("eventbridge-stepfunctions-lambda-root", lambda_root)

    # A Lambda destination record (aws-lambda-java-libs) as each carrier delivers it: an SQS
    # body, an SNS message (the guide: "Lambda passes the invocation record as the
    # Message"), and the detail of the event an EventBridge bus destination gets, whose
    # detail-type, source and resources follow LocalStack's recordings against AWS
    # (test_lambda_destinations.snapshot.json at 8b9a79f).
    record = fixture("aws-lambda-java-libs/lambda_destination_event.json")
    text = json.dumps(record, separators=(",", ":"))
    sqs = fixture("aws-lambda-rust-runtime/example-sqs-event.json")
    sqs["Records"] = sqs["Records"][:1]
    sqs["Records"][0]["body"] = text
    write("sqs-lambda-destination", sqs)
    sns = fixture("aws-lambda-rust-runtime/example-sns-event.json")
    sns["Records"][0]["Sns"]["Message"] = text
    write("sns-lambda-destination", sns)
    bus = fixture("aws-lambda-rust-runtime/example-eventbridge-event-obj.json")
    bus["detail-type"] = "Lambda Function Invocation Result - Failure"
    bus["source"] = "lambda"
    bus["account"], bus["region"] = "123456678912", "sa-east-1"
    bus["resources"] = [
        "arn:aws:events:sa-east-1:123456678912:event-bus/default",
        record["requestContext"]["functionArn"],
    ]
    bus["detail"] = record
    write("eventbridge-lambda-destination", bus)

    # The dead letter of an S3-triggered invocation: Lambda sends the event as it was to the
    # function's SQS dead-letter queue, with the attributes the Lambda guide lists
    # (RequestID, ErrorCode as a Number, ErrorMessage), here the destination fixture's id.
    dead = fixture("aws-lambda-rust-runtime/example-sqs-event.json")
    dead["Records"] = dead["Records"][:1]
    dead["Records"][0]["body"] = json.dumps(fixture("aws-lambda-rust-runtime/example-s3-event.json"))
    dead["Records"][0]["messageAttributes"] = {
        name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": data_type}
        for name, data_type, value in [
            ("RequestID", "String", record["requestContext"]["requestId"]),
            ("ErrorCode", "Number", "200"),
            ("ErrorMessage", "String", "Task timed out after 3.00 seconds"),
        ]
    }
    write("sqs-lambda-dead-letter", dead)


if __name__ == "__main__":
    main()
