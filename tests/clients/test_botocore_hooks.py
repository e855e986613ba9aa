"""The botocore hooks, driven by the real opentelemetry-instrumentation-botocore around
real botocore clients whose responses come from botocore's Stubber (no network)."""

import json
from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary
from botocore.stub import Stubber
from opentelemetry.sdk.trace import TracerProvider

import aws_scenario
from relink_hooks import BotocoreHooks
from relink_hooks import dynamodb_keys


@pytest.fixture
def call(telemetry):
    """call(service, method, response, **params) -> attributes of the span it produced."""

    def run(service, method, response, error=None, **params):
        telemetry.clear()
        client = aws_scenario.client("http://127.0.0.1:1", service)
        with Stubber(client) as stub:
            if error:
                stub.add_client_error(method, service_error_code=error, http_status_code=400)
            else:
                stub.add_response(method, response, None)
            try:
                getattr(client, method)(**params)
            except client.exceptions.ClientError:
                pass
        (span,) = telemetry.producer_spans.get_finished_spans()
        return dict(span.attributes)

    return run


def test_s3_put_object_records_bucket_key_and_etag(call):
    attrs = call("s3", "put_object", {"ETag": '"ab12ef34"'}, Bucket="some-bucket", Key="a b/c.txt", Body=b"x")
    assert attrs["aws.s3.bucket"] == "some-bucket"
    assert attrs["aws.s3.key"] == "a b/c.txt"
    assert attrs["relink.s3.etag"] == '"ab12ef34"'


def test_s3_copy_object_records_the_copy_result_etag(call):
    attrs = call("s3", "copy_object", {"CopyObjectResult": {"ETag": '"cafe"'}},
                 Bucket="dst", Key="k2", CopySource="src/k1")
    assert (attrs["aws.s3.bucket"], attrs["aws.s3.key"], attrs["relink.s3.etag"]) == ("dst", "k2", '"cafe"')


def test_s3_complete_multipart_upload_records_the_multipart_etag(call):
    attrs = call("s3", "complete_multipart_upload", {"ETag": '"ab12ef34-5"', "Bucket": "b", "Key": "k"},
                 Bucket="b", Key="k", UploadId="u")
    assert attrs["relink.s3.etag"] == '"ab12ef34-5"'


def test_s3_failed_put_keeps_bucket_and_key_but_no_etag(call):
    attrs = call("s3", "put_object", None, error="AccessDenied", Bucket="b", Key="k", Body=b"x")
    assert (attrs["aws.s3.bucket"], attrs["aws.s3.key"]) == ("b", "k")
    assert "relink.s3.etag" not in attrs


def test_s3_other_operations_get_no_etag(call):
    attrs = call("s3", "upload_part", {"ETag": '"part"'}, Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=b"x")
    assert "relink.s3.etag" not in attrs
    assert attrs["aws.s3.key"] == "k"


def test_dynamodb_put_item_records_configured_key_attributes(call):
    attrs = call("dynamodb", "put_item", {}, TableName="orders",
                 Item={"sk": {"N": "7"}, "pk": {"S": "a"}, "body": {"S": "not a key"}})
    assert attrs["relink.dynamodb.keys"] == '{"pk":{"S":"a"},"sk":{"N":"7"}}'
    assert attrs["aws.dynamodb.table_names"] == ("orders",)


def test_dynamodb_put_item_on_a_table_of_unknown_schema_records_no_keys(call):
    attrs = call("dynamodb", "put_item", {}, TableName="unknown", Item={"pk": {"S": "a"}})
    assert "relink.dynamodb.keys" not in attrs


def test_dynamodb_update_and_delete_record_the_request_key(call):
    key = {"id": {"B": b"\x00\xffraw"}}
    update = call("dynamodb", "update_item", {}, TableName="t", Key=key, UpdateExpression="SET a = :a",
                  ExpressionAttributeValues={":a": {"S": "x"}})
    delete = call("dynamodb", "delete_item", {}, TableName="t", Key={"id": {"N": "123.456"}})
    assert update["relink.dynamodb.keys"] == '{"id":{"B":"AP9yYXc="}}'
    assert delete["relink.dynamodb.keys"] == '{"id":{"N":"123.456"}}'


def test_dynamodb_failed_write_records_no_keys(call):
    attrs = call("dynamodb", "delete_item", None, error="ConditionalCheckFailedException",
                 TableName="t", Key={"id": {"S": "a"}})
    assert "relink.dynamodb.keys" not in attrs


def test_dynamodb_batch_write_records_written_items_minus_unprocessed(call):
    requests = {
        "orders": [
            {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "x"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": "2"}}}},
        ],
        "other": [{"DeleteRequest": {"Key": {"id": {"S": "z"}}}}],
    }
    unprocessed = {"orders": [{"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": "2"}}}}]}
    attrs = call("dynamodb", "batch_write_item", {"UnprocessedItems": unprocessed}, RequestItems=requests)
    assert json.loads(attrs["relink.dynamodb.keys"]) == {
        "orders": [{"pk": {"S": "a"}, "sk": {"N": "1"}}],
        "other": [{"id": {"S": "z"}}],
    }


def test_dynamodb_transact_write_skips_condition_checks(call):
    items = [
        {"ConditionCheck": {"TableName": "orders", "Key": {"pk": {"S": "c"}, "sk": {"N": "0"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
        {"Put": {"TableName": "orders", "Item": {"pk": {"S": "p"}, "sk": {"N": "1"}}}},
        {"Update": {"TableName": "arn:aws:dynamodb:us-east-1:123456789012:table/other",
                    "Key": {"id": {"S": "u"}}, "UpdateExpression": "SET a = :a",
                    "ExpressionAttributeValues": {":a": {"S": "1"}}}},
        {"Delete": {"TableName": "other", "Key": {"id": {"S": "d"}}}},
    ]
    attrs = call("dynamodb", "transact_write_items", {}, TransactItems=items)
    assert attrs["relink.dynamodb.keys"] == (
        '{"orders":[{"pk":{"S":"p"},"sk":{"N":"1"}}],"other":[{"id":{"S":"u"}},{"id":{"S":"d"}}]}'
    )


def test_sqs_send_message_batch_records_every_successful_id(call):
    response = {
        "Successful": [
            {"Id": "1", "MessageId": "m-1", "MD5OfMessageBody": "x"},
            {"Id": "2", "MessageId": "m-2", "MD5OfMessageBody": "x"},
        ],
        "Failed": [{"Id": "3", "SenderFault": True, "Code": "InvalidParameterValue"}],
    }
    attrs = call("sqs", "send_message_batch", response, QueueUrl="https://sqs/123/q",
                 Entries=[{"Id": str(i), "MessageBody": "b"} for i in (1, 2, 3)])
    assert attrs["relink.message_ids"] == ("m-1", "m-2")
    # The instrumentation itself records only the first id; the hook leaves it alone.
    assert attrs["messaging.message.id"] == "m-1"


def test_sqs_send_message_id_is_left_to_the_instrumentation(call):
    attrs = call("sqs", "send_message", {"MessageId": "m-9", "MD5OfMessageBody": "x"},
                 QueueUrl="https://sqs/123/q", MessageBody="b")
    assert attrs["messaging.message.id"] == "m-9"
    assert "relink.message_ids" not in attrs


def test_sns_publish_records_the_message_id(call):
    attrs = call("sns", "publish", {"MessageId": "sns-1"}, TopicArn="arn:aws:sns:us-east-1:1:t", Message="m")
    assert attrs["messaging.message.id"] == "sns-1"


def test_sns_publish_batch_records_every_successful_id(call):
    response = {"Successful": [{"Id": "1", "MessageId": "s-1"}, {"Id": "2", "MessageId": "s-2"}], "Failed": []}
    attrs = call("sns", "publish_batch", response, TopicArn="arn:aws:sns:us-east-1:1:t",
                 PublishBatchRequestEntries=[{"Id": "1", "Message": "a"}, {"Id": "2", "Message": "b"}])
    assert attrs["relink.message_ids"] == ("s-1", "s-2")


def test_eventbridge_put_events_records_ids_of_accepted_entries(call):
    response = {"FailedEntryCount": 1, "Entries": [
        {"EventId": "e-1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}, {"EventId": "e-3"},
    ]}
    attrs = call("events", "put_events", response,
                 Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}] * 3)
    assert attrs["relink.message_ids"] == ("e-1", "e-3")


def test_kinesis_put_record_records_stream_and_shard_sequence_id(call):
    attrs = call("kinesis", "put_record", {"ShardId": "shardId-000000000000", "SequenceNumber": "4959"},
                 StreamName="clicks", Data=b"x", PartitionKey="p")
    assert attrs["aws.kinesis.stream_name"] == "clicks"
    assert attrs["relink.message_ids"] == ("shardId-000000000000:4959",)


def test_kinesis_put_records_records_ids_of_written_records(call):
    response = {"FailedRecordCount": 1, "Records": [
        {"ShardId": "shardId-000000000001", "SequenceNumber": "100"},
        {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "x"},
        {"ShardId": "shardId-000000000002", "SequenceNumber": "200"},
    ]}
    attrs = call("kinesis", "put_records", response,
                 StreamARN="arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
                 Records=[{"Data": b"x", "PartitionKey": "p"}] * 3)
    assert attrs["aws.kinesis.stream_name"] == "clicks"
    assert attrs["relink.message_ids"] == ("shardId-000000000001:100", "shardId-000000000002:200")


def test_step_functions_start_execution_records_the_execution_arn(call):
    arn = "arn:aws:states:us-east-1:123456789012:execution:flow:run-1"
    attrs = call("stepfunctions", "start_execution", {"executionArn": arn, "startDate": 0},
                 stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:flow")
    assert attrs["relink.message_ids"] == (arn,)


# -- the hooks called directly: schema learning, boto3 resource values, robustness ----


def _span():
    return TracerProvider().get_tracer("t").start_span("s")


def test_key_schema_is_learned_from_describe_table():
    hooks, span = BotocoreHooks(), _span()
    hooks.response_hook(span, "dynamodb", "DescribeTable", {"Table": {
        "TableName": "learned", "KeySchema": [
            {"AttributeName": "sk", "KeyType": "RANGE"}, {"AttributeName": "pk", "KeyType": "HASH"}],
    }})
    assert hooks.key_names("learned") == ("pk", "sk")
    assert hooks.key_names("arn:aws:dynamodb:us-east-1:1:table/learned") == ("pk", "sk")
    hooks.request_hook(span, "dynamodb", "PutItem", {"TableName": "learned", "Item": {"pk": "a", "sk": 1}})
    hooks.response_hook(span, "dynamodb", "PutItem", {"ResponseMetadata": {"HTTPStatusCode": 200}})
    assert span.attributes["relink.dynamodb.keys"] == '{"pk":{"S":"a"},"sk":{"N":"1"}}'


def test_boto3_resource_values_map_to_typed_keys():
    assert dynamodb_keys.typed_keys({"s": "x", "n": Decimal("1.50"), "i": 3, "b": Binary(b"\x01"), "r": b"\x02"}) == {
        "s": {"S": "x"}, "n": {"N": "1.50"}, "i": {"N": "3"}, "b": {"B": "AQ=="}, "r": {"B": "Ag=="},
    }


@pytest.mark.parametrize("key", [
    {"flag": True}, {"m": {"M": {}}}, {"two": {"S": "a", "N": "1"}}, {"f": 1.5}, {}, None, {"l": ["a"]},
])
def test_values_that_cannot_be_keys_give_no_keys(key):
    assert dynamodb_keys.typed_keys(key) is None


def test_keys_from_item_needs_every_key_attribute():
    assert dynamodb_keys.keys_from_item({"pk": {"S": "a"}}, ("pk", "sk")) is None
    assert dynamodb_keys.keys_from_item({"pk": {"S": "a"}, "sk": {"N": "2"}}, ("pk", "sk")) == {
        "pk": {"S": "a"}, "sk": {"N": "2"}}


@pytest.mark.parametrize("params,result", [
    (None, None), ({"TableName": 5, "Item": []}, {"Error": {}}), ({"Key": "x"}, "not a dict"),
    ({"RequestItems": {"t": "x"}}, {"UnprocessedItems": {"t": [None]}}),
    ({"TransactItems": [None, {"Put": None}]}, {}),
    ({"Bucket": 1, "Key": None}, {"ETag": 3, "CopyObjectResult": "x"}),
])
@pytest.mark.parametrize("service,operation", [
    ("dynamodb", "PutItem"), ("dynamodb", "BatchWriteItem"), ("dynamodb", "TransactWriteItems"),
    ("s3", "CopyObject"), ("kinesis", "PutRecords"), ("events", "PutEvents"), ("sqs", "SendMessageBatch"),
])
def test_hooks_never_raise_on_odd_input(service, operation, params, result):
    hooks, span = BotocoreHooks(key_names={"t": ("pk",)}), _span()
    hooks.request_hook(span, service, operation, params)
    hooks.response_hook(span, service, operation, result)
    hooks.request_hook(None, service, operation, params)
    hooks.response_hook(None, service, operation, result)
    assert not any(k.startswith("relink.") for k in span.attributes)
