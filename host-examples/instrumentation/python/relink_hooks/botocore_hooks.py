"""request_hook / response_hook for opentelemetry-instrumentation-botocore.

They add to the AWS SDK client span the facts relink joins on and that the botocore
instrumentation (0.66b1, read from its source) does not record:
  - S3: `aws.s3.bucket` and `aws.s3.key` (semantic-convention names; the Python
    instrumentation records neither), `relink.s3.etag` for PutObject,
    CompleteMultipartUpload and CopyObject (CopyObjectResult.ETag);
  - DynamoDB: `relink.dynamodb.keys`, the written item's key for PutItem / UpdateItem /
    DeleteItem, and `{table: [key, ...]}` for BatchWriteItem / TransactWriteItems;
  - the ids AWS hands back that the triggered event repeats: SNS Publish
    `messaging.message.id`; `relink.message_ids` (string array) for SQS SendMessageBatch,
    SNS PublishBatch, EventBridge PutEvents, Kinesis PutRecord(s) (`ShardId:SequenceNumber`,
    the record's `eventID` in the Lambda event) and Step Functions StartExecution;
    Kinesis `aws.kinesis.stream_name`.
README.md beside this package lists each attribute with its format.

The instrumentation calls the response hook outside any try block (a raising hook would
replace the AWS call's own result or error), so every entry point here swallows its own
exceptions. Facts that only hold if the write happened are set from the response hook,
and only when the call succeeded.
"""

import threading

from . import dynamodb_keys

S3_BUCKET = "aws.s3.bucket"
S3_KEY = "aws.s3.key"
S3_ETAG = "relink.s3.etag"
DYNAMODB_KEYS = "relink.dynamodb.keys"
MESSAGE_ID = "messaging.message.id"
MESSAGE_IDS = "relink.message_ids"
KINESIS_STREAM_NAME = "aws.kinesis.stream_name"

_S3_ETAG_OPERATIONS = ("PutObject", "CompleteMultipartUpload")


def table_name(name):
    """`orders` for both `orders` and `arn:aws:dynamodb:...:table/orders`."""
    if isinstance(name, str) and name.startswith("arn:") and ":table/" in name:
        return name.split(":table/", 1)[1].split("/", 1)[0]
    return name


class BotocoreHooks:
    """Holds the DynamoDB key schema knowledge the hooks need; pass its two methods to
    `BotocoreInstrumentor().instrument(request_hook=..., response_hook=...)`.

    key_names: `{"table": ("pk", "sk")}`, the key attribute names of each table, needed
    for PutItem and for BatchWriteItem / TransactWriteItems puts (their requests carry the
    whole item, not its key). Tables missing here are learned from CreateTable and
    DescribeTable responses the same hooks see; a put on a table known neither way gets
    no key attribute.
    """

    def __init__(self, key_names=None):
        self._key_names = {table_name(t): tuple(n) for t, n in (key_names or {}).items()}
        self._learned = {}
        self._pending = {}
        self._lock = threading.Lock()

    def key_names(self, table):
        name = table_name(table)
        return self._key_names.get(name) or self._learned.get(name)

    def request_hook(self, span, service_name, operation_name, api_params):
        try:
            if span is None or not span.is_recording() or not isinstance(api_params, dict):
                return
            pending = self._on_request(span, service_name, operation_name, api_params)
            if pending is not None:
                with self._lock:
                    self._pending[id(span)] = pending
        except Exception:  # pylint: disable=broad-except
            return

    def response_hook(self, span, service_name, operation_name, result):
        with self._lock:
            pending = self._pending.pop(id(span), None)
        try:
            if span is None or not span.is_recording() or not _succeeded(result):
                return
            self._on_response(span, service_name, operation_name, result, pending)
        except Exception:  # pylint: disable=broad-except
            return

    # -- request side ------------------------------------------------------------

    def _on_request(self, span, service, operation, params):
        if service == "s3":
            for attribute, param in ((S3_BUCKET, "Bucket"), (S3_KEY, "Key")):
                if isinstance(params.get(param), str):
                    span.set_attribute(attribute, params[param])
            return None
        if service == "kinesis":
            stream = _kinesis_stream_name(params)
            if stream:
                span.set_attribute(KINESIS_STREAM_NAME, stream)
            return None
        if service == "dynamodb":
            return self._dynamodb_request(operation, params)
        return None

    def _dynamodb_request(self, operation, params):
        table = params.get("TableName")
        if operation == "PutItem":
            keys = dynamodb_keys.keys_from_item(params.get("Item"), self.key_names(table))
            return None if keys is None else ("keys", keys)
        if operation in ("UpdateItem", "DeleteItem"):
            keys = dynamodb_keys.typed_keys(params.get("Key"))
            return None if keys is None else ("keys", keys)
        if operation == "BatchWriteItem":
            return ("items", self._batch_write_items(params.get("RequestItems")))
        if operation == "TransactWriteItems":
            return ("items", self._transact_items(params.get("TransactItems")))
        return None

    def _item_keys(self, table, request):
        """Keys of one write request: `{"Item": ...}` (put) or `{"Key": ...}`."""
        if not isinstance(request, dict):
            return None
        if "Key" in request:
            return dynamodb_keys.typed_keys(request.get("Key"))
        return dynamodb_keys.keys_from_item(request.get("Item"), self.key_names(table))

    def _batch_write_items(self, request_items):
        items = []
        for table, requests in _dict(request_items).items():
            for request in requests if isinstance(requests, list) else ():
                if not isinstance(request, dict):
                    continue
                write = request.get("PutRequest") or request.get("DeleteRequest")
                keys = self._item_keys(table, write)
                if keys is not None:
                    items.append({"table": table_name(table), "keys": keys})
        return items

    def _transact_items(self, transact_items):
        items = []
        for entry in transact_items if isinstance(transact_items, list) else ():
            # ConditionCheck writes nothing, so it makes no stream record to join.
            for kind in ("Put", "Update", "Delete"):
                write = _dict(entry).get(kind)
                if isinstance(write, dict):
                    keys = self._item_keys(write.get("TableName"), write)
                    if keys is not None:
                        items.append({"table": table_name(write.get("TableName")), "keys": keys})
        return items

    # -- response side -----------------------------------------------------------

    def _on_response(self, span, service, operation, result, pending):
        if service == "s3":
            _set_str(span, S3_ETAG, _s3_etag(operation, result))
        elif service == "dynamodb":
            self._dynamodb_response(span, operation, result, pending)
        elif service == "sqs" and operation == "SendMessageBatch":
            _set_list(span, MESSAGE_IDS, _ids(result.get("Successful"), "MessageId"))
        elif service == "sns" and operation == "Publish":
            _set_str(span, MESSAGE_ID, result.get("MessageId"))
        elif service == "sns" and operation == "PublishBatch":
            _set_list(span, MESSAGE_IDS, _ids(result.get("Successful"), "MessageId"))
        elif service == "events" and operation == "PutEvents":
            _set_list(span, MESSAGE_IDS, _ids(result.get("Entries"), "EventId"))
        elif service == "kinesis" and operation in ("PutRecord", "PutRecords"):
            records = [result] if operation == "PutRecord" else result.get("Records")
            _set_list(span, MESSAGE_IDS, [
                f"{r['ShardId']}:{r['SequenceNumber']}"
                for r in _list(records) if _str(r, "ShardId") and _str(r, "SequenceNumber")
            ])
        elif service == "stepfunctions" and operation in ("StartExecution", "StartSyncExecution"):
            if _str(result, "executionArn"):
                _set_list(span, MESSAGE_IDS, [result["executionArn"]])

    def _dynamodb_response(self, span, operation, result, pending):
        if operation in ("CreateTable", "DescribeTable"):
            table = _dict(result.get("TableDescription") or result.get("Table"))
            names = dynamodb_keys.key_names_from_schema(table.get("KeySchema"))
            if names and isinstance(table.get("TableName"), str):
                self._learned[table["TableName"]] = names
            return
        if pending is None:
            return
        kind, value = pending
        if kind == "keys":
            span.set_attribute(DYNAMODB_KEYS, dynamodb_keys.to_json(value))
            return
        unprocessed = set()
        if operation == "BatchWriteItem":
            unprocessed = {
                (item["table"], dynamodb_keys.to_json(item["keys"]))
                for item in self._batch_write_items(result.get("UnprocessedItems"))
            }
        by_table = {}
        for item in value:
            if (item["table"], dynamodb_keys.to_json(item["keys"])) not in unprocessed:
                by_table.setdefault(item["table"], []).append(item["keys"])
        if by_table:
            span.set_attribute(DYNAMODB_KEYS, dynamodb_keys.to_json(by_table))


def _succeeded(result):
    """True for a parsed success response; a ClientError's response carries `Error`."""
    if not isinstance(result, dict) or "Error" in result:
        return False
    status = _dict(result.get("ResponseMetadata")).get("HTTPStatusCode", 200)
    return isinstance(status, int) and 200 <= status < 300


def _s3_etag(operation, result):
    if operation in _S3_ETAG_OPERATIONS:
        return result.get("ETag")
    if operation == "CopyObject":
        return _dict(result.get("CopyObjectResult")).get("ETag")
    return None


def _kinesis_stream_name(params):
    name = params.get("StreamName")
    if isinstance(name, str) and name:
        return name
    arn = params.get("StreamARN")
    if isinstance(arn, str) and ":stream/" in arn:
        return arn.split(":stream/", 1)[1]
    return None


def _ids(entries, field):
    return [e[field] for e in _list(entries) if _str(e, field)]


def _str(mapping, field):
    return isinstance(mapping, dict) and isinstance(mapping.get(field), str) and mapping[field] != ""


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _set_str(span, attribute, value):
    if isinstance(value, str) and value:
        span.set_attribute(attribute, value)


def _set_list(span, attribute, values):
    if values:
        span.set_attribute(attribute, list(values))


_DEFAULT = BotocoreHooks()
request_hook = _DEFAULT.request_hook
response_hook = _DEFAULT.response_hook
