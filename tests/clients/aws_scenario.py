"""The real-client scenario: boto3 against a local moto server, instrumented by the
OpenTelemetry Python SDK, and a Lambda-style consumer fed with what moto delivered.

Two services, each with its own TracerProvider and resource, as in production:
  - "uploader" (producer): an HTTP-style root span around real boto3 calls, traced by
    opentelemetry-instrumentation-botocore with relink's hooks;
  - "processor" (consumer): `lambda_consumer.handler`, wrapped by
    opentelemetry-instrumentation-aws-lambda with relink's event extractor, so its
    invocation span carries the trigger event as `relink.event`.
What AWS itself does between the two (S3 notifications, the DynamoDB Streams event source
mapping) is played by the test reading moto's queue and stream with instrumentation
suppressed, then handing the payloads to the handler exactly as Lambda would: the S3
event is the notification body; stream records get the two fields Lambda adds
(`eventSourceARN`, epoch-seconds `ApproximateCreationDateTime`) and base64 binaries.

moto 5.2.5 quirks the assertions account for: the first message on a new notification
queue is an `s3:TestEvent`; a completed multipart upload is announced twice
(`ObjectCreated:Put` and `ObjectCreated:CompleteMultipartUpload`); an UpdateItem that
creates its item gives two INSERT records; notifications carry no `responseElements`.
"""

import base64
import io
import json
import os
import time
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field

import boto3
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

REGION = "us-east-1"
ACCOUNT = "123456789012"
CONSUMER_FUNCTION = "processor"
CONSUMER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{CONSUMER_FUNCTION}"


@dataclass
class Telemetry:
    """Both services' providers and in-memory exporters, instrumented once per process."""

    producer_provider: TracerProvider
    consumer_provider: TracerProvider
    producer_spans: InMemorySpanExporter
    consumer_spans: InMemorySpanExporter

    def clear(self):
        self.producer_spans.clear()
        self.consumer_spans.clear()

    def finished(self):
        return list(self.producer_spans.get_finished_spans()) + list(
            self.consumer_spans.get_finished_spans()
        )


def instrument(key_names):
    """Instrument botocore and aws-lambda with relink's hooks; returns the Telemetry."""
    # Imported here: the hooks live in host-examples/, put on sys.path by conftest.py.
    from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from relink_hooks import BotocoreHooks, RelinkEventSpanProcessor, relink_event_extractor

    producer_spans, consumer_spans = InMemorySpanExporter(), InMemorySpanExporter()
    producer = TracerProvider(resource=Resource({
        "service.name": "uploader", "cloud.provider": "aws", "cloud.region": REGION,
    }))
    producer.add_span_processor(SimpleSpanProcessor(producer_spans))
    consumer = TracerProvider(resource=Resource({
        "service.name": CONSUMER_FUNCTION, "cloud.provider": "aws", "cloud.region": REGION,
        "faas.name": CONSUMER_FUNCTION,
    }))
    consumer.add_span_processor(RelinkEventSpanProcessor())
    consumer.add_span_processor(SimpleSpanProcessor(consumer_spans))

    hooks = BotocoreHooks(key_names=key_names)
    BotocoreInstrumentor().instrument(
        tracer_provider=producer, request_hook=hooks.request_hook, response_hook=hooks.response_hook,
    )
    # The Lambda instrumentation only activates on Lambda, found by these variables.
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = CONSUMER_FUNCTION
    os.environ["_HANDLER"] = "lambda_consumer.handler"
    AwsLambdaInstrumentor().instrument(
        tracer_provider=consumer, meter_provider=MeterProvider(),
        event_context_extractor=relink_event_extractor(),
    )
    return Telemetry(producer, consumer, producer_spans, consumer_spans)


def uninstrument():
    from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

    AwsLambdaInstrumentor().uninstrument()
    BotocoreInstrumentor().uninstrument()


def client(endpoint, service):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


class LambdaContext:
    """The attributes opentelemetry-instrumentation-aws-lambda reads from the context."""

    function_name = CONSUMER_FUNCTION
    function_version = "$LATEST"
    invoked_function_arn = CONSUMER_ARN
    memory_limit_in_mb = 128

    def __init__(self, request_id=None):
        self.aws_request_id = request_id or str(uuid.uuid4())


def invoke_consumer(event, request_id=None):
    """Invoke the (instrumented) consumer as Lambda would; returns its result. Lambda gives
    a function called through `Invoke` the call's request id (`request_id`)."""
    import lambda_consumer

    return lambda_consumer.handler(event, LambdaContext(request_id))


@dataclass
class Flow:
    """What one scenario produced: the events delivered and the names it used."""

    events: list = field(default_factory=list)
    names: dict = field(default_factory=dict)


def s3_flow(endpoint, telemetry):
    """PutObject, CopyObject and a multipart upload -> S3 notifications -> one invocation each.

    Runs once per moto server: the bucket and queue names are fixed.
    """
    s3, sqs = client(endpoint, "s3"), client(endpoint, "sqs")
    bucket, queue = "inbox", "uploads"
    with suppress_instrumentation():
        queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
        })

    tracer = telemetry.producer_provider.get_tracer("uploader.app")
    with tracer.start_as_current_span("POST /upload", kind=SpanKind.SERVER):
        s3.put_object(Bucket=bucket, Key="dir/my file.txt", Body=b"hello relink")
        s3.copy_object(Bucket=bucket, Key="copies/report 1.txt",
                       CopySource={"Bucket": bucket, "Key": "dir/my file.txt"})
        upload = s3.create_multipart_upload(Bucket=bucket, Key="big/part.bin")
        part = s3.upload_part(Bucket=bucket, Key="big/part.bin", UploadId=upload["UploadId"],
                              PartNumber=1, Body=b"x" * 1024)
        s3.complete_multipart_upload(
            Bucket=bucket, Key="big/part.bin", UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )

    flow = Flow(names={"bucket": bucket})
    for body in _receive_bodies(sqs, queue_url, expected=3):
        event = json.loads(body)
        if "Records" not in event:  # the s3:TestEvent sent when notifications are set up
            continue
        flow.events.append(event)
        invoke_consumer(event)
    return flow


def dynamodb_flow(endpoint, telemetry):
    """PutItem (INSERT), UpdateItem upsert (INSERT), DeleteItem (REMOVE) -> one stream batch.

    Runs once per moto server: the table name is fixed (the hooks know its key schema).
    """
    ddb, streams = client(endpoint, "dynamodb"), client(endpoint, "dynamodbstreams")
    table = "orders"
    with suppress_instrumentation():
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        ddb.put_item(TableName=table, Item={"pk": {"S": "order#3"}, "sk": {"N": "1"}})
        stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST",
        )["ShardIterator"]

    tracer = telemetry.producer_provider.get_tracer("uploader.app")
    with tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER):
        ddb.put_item(TableName=table, Item={
            "pk": {"S": "order#1"}, "sk": {"N": "1"}, "blob": {"B": b"\x00\x01relink"},
        })
        ddb.update_item(TableName=table, Key={"pk": {"S": "order#2"}, "sk": {"N": "2"}},
                        UpdateExpression="SET #t = :t", ExpressionAttributeNames={"#t": "total"},
                        ExpressionAttributeValues={":t": {"N": "12"}})
        ddb.delete_item(TableName=table, Key={"pk": {"S": "order#3"}, "sk": {"N": "1"}})

    with suppress_instrumentation():
        records = streams.get_records(ShardIterator=iterator)["Records"]
    event = {"Records": [lambda_stream_record(r, stream_arn) for r in records]}
    invoke_consumer(event)
    return Flow(events=[event], names={"table": table, "stream_arn": stream_arn})


def moto_function(endpoint, name, role_name):
    """A function in moto's Lambda without Docker (its `lambda_simple` backend, switched on
    through the server's config API: it answers each call with a request id and runs
    nothing), with its role; returns its ARN."""
    lam, iam = client(endpoint, "lambda"), client(endpoint, "iam")
    switch = urllib.request.Request(f"{endpoint}/moto-api/config", method="POST",
                                    data=json.dumps({"lambda": {"use_docker": False}}).encode())
    with urllib.request.urlopen(switch, timeout=10) as answer:
        assert answer.status == 201, answer.status
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("lambda_consumer.py", "def handler(event, context):\n    return {}\n")
    with suppress_instrumentation():
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        return lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role,
            Handler="lambda_consumer.handler", Code={"ZipFile": code.getvalue()})["FunctionArn"]


def invoke_flow(endpoint, telemetry):
    """`Invoke` asynchronously (`Event`) and synchronously -> one invocation each.

    moto's Lambda without Docker (its `lambda_simple` backend, switched on through the
    server's config API) answers each call with a request id and runs nothing; the test
    then invokes the consumer as Lambda would, with that request id and without the
    call's `ClientContext` (Lambda drops it for asynchronous calls). Returns the two
    request ids.
    """
    lam = client(endpoint, "lambda")
    moto_function(endpoint, CONSUMER_FUNCTION, "processor-role")

    tracer = telemetry.producer_provider.get_tracer("uploader.app")
    ids = []
    with tracer.start_as_current_span("POST /reports", kind=SpanKind.SERVER):
        for invocation_type in ("Event", "RequestResponse"):
            answer = lam.invoke(FunctionName=CONSUMER_FUNCTION, InvocationType=invocation_type,
                                Payload=json.dumps({"report": invocation_type}).encode())
            ids.append(answer["ResponseMetadata"]["RequestId"])
    for invocation_type, request_id in zip(("Event", "RequestResponse"), ids):
        invoke_consumer({"report": invocation_type}, request_id)
    return ids


def destination_flow(endpoint, telemetry, record_template):
    """An asynchronous `Invoke` -> its invocation -> the `OnSuccess` record on an SQS
    queue -> the queue's consumer; and the same event as a dead letter on another queue ->
    that queue's consumer.

    Lambda's side is played as for `invoke_flow`, and as moto does not deliver destination
    records or dead letters, so is its sending: the record (`record_template`, a real one,
    given the invocation's request id and function ARN, as the Lambda guide describes it)
    goes to one moto queue, the event with the attributes the guide lists for dead letters
    (`RequestID`, `ErrorCode` as a Number, `ErrorMessage`) to another; what moto delivers
    is handed to the consumer as Lambda's SQS event source mapping does. Returns (the
    request id, the record's SQS event, the dead letter's SQS event).
    """
    lam, sqs = client(endpoint, "lambda"), client(endpoint, "sqs")
    function = "nightly-report"
    function_arn = moto_function(endpoint, function, "report-role")
    with suppress_instrumentation():
        queues = {}
        for name in ("report-sink", "report-dlq"):
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            queues[name] = (url, sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    tracer = telemetry.producer_provider.get_tracer("uploader.app")
    with tracer.start_as_current_span("POST /reports", kind=SpanKind.SERVER):
        answer = lam.invoke(FunctionName=function, InvocationType="Event",
                            Payload=json.dumps({"report": "nightly"}).encode())
    request_id = answer["ResponseMetadata"]["RequestId"]
    invoke_consumer({"report": "nightly"}, request_id)

    record = json.loads(json.dumps(record_template))
    record["requestContext"].update({
        "requestId": request_id, "functionArn": f"{function_arn}:$LATEST",
        "condition": "Success", "approximateInvokeCount": 1,
    })
    record["requestPayload"] = {"report": "nightly"}
    record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST"}
    record["responsePayload"] = {}
    dead_letter = {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "Task timed out after 3.00 seconds"},
    }
    events = []
    for name, body, attributes in [("report-sink", json.dumps(record), {}),
                                   ("report-dlq", json.dumps({"report": "nightly"}), dead_letter)]:
        url, arn = queues[name]
        with suppress_instrumentation():
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
            messages = []
            deadline = time.monotonic() + 15
            while not messages and time.monotonic() < deadline:
                messages = sqs.receive_message(QueueUrl=url, AttributeNames=["All"],
                                               MessageAttributeNames=["All"],
                                               WaitTimeSeconds=1).get("Messages", [])
        assert len(messages) == 1, messages
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m["Attributes"], "md5OfBody": m["MD5OfBody"],
            "messageAttributes": {k: {"stringValue": v["StringValue"], "stringListValues": [],
                                      "binaryListValues": [], "dataType": v["DataType"]}
                                  for k, v in m.get("MessageAttributes", {}).items()},
            "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": REGION,
        } for m in messages]}
        invoke_consumer(event)
        events.append(event)
    return request_id, *events


def lambda_stream_record(record, stream_arn):
    """A GetRecords record (as boto3 parsed it) -> the record Lambda hands a function."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if created is not None:
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in stream:
            stream[image] = {k: _lambda_attribute(v) for k, v in stream[image].items()}
    return {**record, "dynamodb": stream, "eventSourceARN": stream_arn}


def _lambda_attribute(value):
    """AttributeValue with boto3 bytes -> Lambda's JSON form (base64 binaries)."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode("ascii") for b in inner]}
    if kind == "M":
        return {"M": {k: _lambda_attribute(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_lambda_attribute(v) for v in inner]}
    return {kind: inner}


def _receive_bodies(sqs, queue_url, expected, timeout=15.0):
    """Every notification body in the queue (the test event too), once at least
    `expected` S3 records have arrived and the queue reads empty."""
    bodies, deadline = [], time.monotonic() + timeout
    with suppress_instrumentation():
        while time.monotonic() < deadline:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = answer.get("Messages", [])
            for message in messages:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages and sum('"Records"' in b for b in bodies) >= expected:
                break
    return bodies
