'use strict';
// node --test host-examples/instrumentation/node/test/
// The hooks are called the way the instrumentations call them (aws-sdk 0.79.0:
// preRequestHook(span, {moduleVersion, request}), responseHook(span, {response:
// {data, request, requestId}}); aws-lambda 0.76.0: requestHook(span, {event, context})).
const test = require('node:test');
const assert = require('node:assert/strict');
const { createAwsSdkHooks, createLambdaRequestHook, serialiseEvent } = require('../relink-hooks');

function fakeSpan(recording = true) {
  const attributes = {};
  return {
    attributes,
    isRecording: () => recording,
    setAttribute(key, value) {
      attributes[key] = value;
      return this;
    },
  };
}

function call(hooks, serviceName, commandName, commandInput, data) {
  const span = fakeSpan();
  const request = { serviceName, commandName, commandInput, region: 'us-east-1' };
  hooks.preRequestHook(span, { moduleVersion: '3.0.0', request });
  hooks.responseHook(span, { response: { data, request, requestId: 'r' } });
  return span.attributes;
}

const hooks = createAwsSdkHooks({ keyNames: { orders: ['pk', 'sk'] } });

test('S3 PutObject: key and ETag (bucket is recorded by the instrumentation)', () => {
  const attrs = call(hooks, 'S3', 'PutObject', { Bucket: 'b', Key: 'a b/c.txt', Body: 'x' }, { ETag: '"ab12ef34"' });
  assert.deepEqual(attrs, { 'aws.s3.key': 'a b/c.txt', 'relink.s3.etag': '"ab12ef34"' });
});

test('S3 CopyObject and CompleteMultipartUpload ETags', () => {
  assert.equal(call(hooks, 'S3', 'CopyObject', { Key: 'k' }, { CopyObjectResult: { ETag: '"c"' } })['relink.s3.etag'], '"c"');
  assert.equal(call(hooks, 'S3', 'CompleteMultipartUpload', { Key: 'k' }, { ETag: '"m-5"' })['relink.s3.etag'], '"m-5"');
  assert.equal(call(hooks, 'S3', 'UploadPart', { Key: 'k' }, { ETag: '"p"' })['relink.s3.etag'], undefined);
});

test('DynamoDB PutItem keys from configured names, typed and native values', () => {
  const typed = call(hooks, 'DynamoDB', 'PutItem',
    { TableName: 'orders', Item: { sk: { N: '7' }, pk: { S: 'a' }, body: { S: 'x' } } }, {});
  assert.equal(typed['relink.dynamodb.keys'], '{"pk":{"S":"a"},"sk":{"N":"7"}}');
  const native = call(hooks, 'DynamoDB', 'PutItem', { TableName: 'orders', Item: { pk: 'a', sk: 7, body: 'x' } }, {});
  assert.equal(native['relink.dynamodb.keys'], '{"pk":{"S":"a"},"sk":{"N":"7"}}');
  assert.deepEqual(call(hooks, 'DynamoDB', 'PutItem', { TableName: 'unknown', Item: { pk: 'a' } }, {}), {});
});

test('DynamoDB UpdateItem / DeleteItem use the request Key; B as base64', () => {
  const update = call(hooks, 'DynamoDB', 'UpdateItem', { TableName: 't', Key: { id: { B: Uint8Array.from([0, 255, 114]) } } }, {});
  assert.equal(update['relink.dynamodb.keys'], '{"id":{"B":"AP9y"}}');
  const del = call(hooks, 'DynamoDB', 'DeleteItem', { TableName: 't', Key: { id: { N: '123.456' } } }, {});
  assert.equal(del['relink.dynamodb.keys'], '{"id":{"N":"123.456"}}');
});

test('DynamoDB BatchWriteItem minus UnprocessedItems', () => {
  const RequestItems = {
    orders: [
      { PutRequest: { Item: { pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'x' } } } },
      { DeleteRequest: { Key: { pk: { S: 'b' }, sk: { N: '2' } } } },
    ],
    other: [{ DeleteRequest: { Key: { id: { S: 'z' } } } }],
  };
  const UnprocessedItems = { orders: [{ DeleteRequest: { Key: { pk: { S: 'b' }, sk: { N: '2' } } } }] };
  const attrs = call(hooks, 'DynamoDB', 'BatchWriteItem', { RequestItems }, { UnprocessedItems });
  assert.equal(attrs['relink.dynamodb.keys'], '{"orders":[{"pk":{"S":"a"},"sk":{"N":"1"}}],"other":[{"id":{"S":"z"}}]}');
});

test('DynamoDB TransactWriteItems skips ConditionCheck and strips table ARNs', () => {
  const TransactItems = [
    { ConditionCheck: { TableName: 'orders', Key: { pk: { S: 'c' }, sk: { N: '0' } } } },
    { Put: { TableName: 'orders', Item: { pk: { S: 'p' }, sk: { N: '1' } } } },
    { Update: { TableName: 'arn:aws:dynamodb:us-east-1:123456789012:table/other', Key: { id: { S: 'u' } } } },
    { Delete: { TableName: 'other', Key: { id: { S: 'd' } } } },
  ];
  const attrs = call(hooks, 'DynamoDB', 'TransactWriteItems', { TransactItems }, {});
  assert.equal(attrs['relink.dynamodb.keys'],
    '{"orders":[{"pk":{"S":"p"},"sk":{"N":"1"}}],"other":[{"id":{"S":"u"}},{"id":{"S":"d"}}]}');
});

test('DynamoDB key schema learned from DescribeTable', () => {
  const own = createAwsSdkHooks();
  call(own, 'DynamoDB', 'DescribeTable', { TableName: 'learned' }, {
    Table: { TableName: 'learned', KeySchema: [{ AttributeName: 'sk', KeyType: 'RANGE' }, { AttributeName: 'pk', KeyType: 'HASH' }] },
  });
  const attrs = call(own, 'DynamoDB', 'PutItem', { TableName: 'learned', Item: { pk: 'a', sk: 1n } }, {});
  assert.equal(attrs['relink.dynamodb.keys'], '{"pk":{"S":"a"},"sk":{"N":"1"}}');
});

test('message ids: SQS batch, SNS publish and batch, EventBridge, Kinesis, Step Functions', () => {
  assert.deepEqual(call(hooks, 'SQS', 'SendMessageBatch', {}, {
    Successful: [{ Id: '1', MessageId: 'm-1' }, { Id: '2', MessageId: 'm-2' }], Failed: [{ Id: '3' }],
  }), { 'relink.message_ids': ['m-1', 'm-2'] });
  assert.deepEqual(call(hooks, 'SQS', 'SendMessage', {}, { MessageId: 'm-9' }), {});
  assert.deepEqual(call(hooks, 'SNS', 'Publish', {}, { MessageId: 's-1' }), { 'messaging.message.id': 's-1' });
  assert.deepEqual(call(hooks, 'SNS', 'PublishBatch', {}, { Successful: [{ MessageId: 's-2' }] }),
    { 'relink.message_ids': ['s-2'] });
  assert.deepEqual(call(hooks, 'EventBridge', 'PutEvents', {}, {
    Entries: [{ EventId: 'e-1' }, { ErrorCode: 'InternalFailure' }, { EventId: 'e-3' }],
  }), { 'relink.message_ids': ['e-1', 'e-3'] });
  assert.deepEqual(call(hooks, 'Kinesis', 'PutRecords', {}, {
    Records: [{ ShardId: 'shardId-1', SequenceNumber: '100' }, { ErrorCode: 'x' }, { ShardId: 'shardId-2', SequenceNumber: '200' }],
  }), { 'relink.message_ids': ['shardId-1:100', 'shardId-2:200'] });
  assert.deepEqual(call(hooks, 'Kinesis', 'PutRecord', {}, { ShardId: 'shardId-0', SequenceNumber: '7' }),
    { 'relink.message_ids': ['shardId-0:7'] });
  assert.deepEqual(call(hooks, 'SFN', 'StartExecution', {}, { executionArn: 'arn:aws:states:x:execution:f:r' }),
    { 'relink.message_ids': ['arn:aws:states:x:execution:f:r'] });
});

test('hooks never throw and skip non-recording spans', () => {
  const span = fakeSpan(false);
  hooks.preRequestHook(span, { request: { serviceName: 'S3', commandInput: { Key: 'k' } } });
  hooks.responseHook(span, { response: { request: { serviceName: 'S3', commandName: 'PutObject' }, data: { ETag: '"x"' } } });
  assert.deepEqual(span.attributes, {});
  for (const info of [undefined, null, {}, { response: null }, { response: { request: {}, data: 5 } }]) {
    hooks.preRequestHook(fakeSpan(), info);
    hooks.responseHook(fakeSpan(), info);
  }
  const odd = call(hooks, 'DynamoDB', 'BatchWriteItem', { RequestItems: { t: 'x' } }, { UnprocessedItems: { t: [null] } });
  assert.deepEqual(odd, {});
});

test('Lambda requestHook puts the event on the invocation span within the bound', () => {
  const event = { Records: [{ eventSource: 'aws:s3', s3: { object: { key: 'k', eTag: 'e' } } }] };
  const span = fakeSpan();
  createLambdaRequestHook()(span, { event, context: {} });
  assert.deepEqual(span.attributes, { 'relink.event': JSON.stringify(event) });
});

test('Lambda event bound: images dropped first, then omitted with its size', () => {
  const stream = { Records: [{ dynamodb: { Keys: { k: { S: 'v' } }, NewImage: { big: { S: 'x'.repeat(500) } } } }] };
  const reduced = fakeSpan();
  createLambdaRequestHook({ maxBytes: 200 })(reduced, { event: stream });
  assert.deepEqual(reduced.attributes, {
    'relink.event': '{"Records":[{"dynamodb":{"Keys":{"k":{"S":"v"}}}}]}', 'relink.event.reduced': true,
  });
  const omitted = fakeSpan();
  createLambdaRequestHook({ maxBytes: 10 })(omitted, { event: { x: 'y'.repeat(100) } });
  assert.deepEqual(omitted.attributes, { 'relink.event.omitted_bytes': 108 });
  assert.deepEqual(serialiseEvent({ k: '日本' }, 13), [undefined, false, 14]);
});
