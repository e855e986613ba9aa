'use strict';
/**
 * The Node real-client scenario: AWS SDK v3 clients against a local moto_server, traced by
 * the OpenTelemetry Node SDK with @opentelemetry/instrumentation-aws-sdk and
 * -aws-lambda configured with relink's hooks (installed from `file:../..` as a user
 * installs a local package), every span exported over OTLP/HTTP protobuf to `relink
 * serve` relays, one per relink configuration.
 *
 * Two services, as in production: "uploader" (the producer: a server span around real SDK
 * calls) and "processor" (the consumer: `consumer.handler`, wrapped by the Lambda
 * instrumentation). What AWS does between the two (S3 notifications, the DynamoDB Streams
 * and SQS event source mappings, SNS to SQS delivery, an asynchronous `Invoke`) is played
 * by reading moto's queues and streams with tracing suppressed and handing the payloads to
 * the handler in the shape Lambda gives them (an invocation with its `Invoke` call's
 * request id). The Step Functions execution's history goes to the relay's
 * `/v1/events`, as a deployment ships it.
 *
 * moto 5.2.5 quirks the assertions account for: the first message on a new notification
 * queue is an `s3:TestEvent`; a completed multipart upload is announced twice; an
 * UpdateItem that creates its item gives two INSERT records.
 */
const crypto = require('node:crypto');
const path = require('node:path');

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const FUNCTION = 'processor';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${FUNCTION}`;
const KEY_NAMES = { orders: ['pk', 'sk'] };
const SERVER = { kind: require('@opentelemetry/api').SpanKind.SERVER };

/**
 * Instruments the AWS SDK and the consumer handler, exporting to `endpoints` (base URLs of
 * relays). Must run before any @aws-sdk client module is loaded.
 */
function instrument(endpoints) {
  const { context } = require('@opentelemetry/api');
  const { suppressTracing } = require('@opentelemetry/core');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
  const { AwsLambdaInstrumentation } = require('@opentelemetry/instrumentation-aws-lambda');
  const { AwsInstrumentation } = require('@opentelemetry/instrumentation-aws-sdk');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-node');
  const { createAwsSdkHooks, createLambdaRequestHook } = require('relink-hooks');

  // What the SDK exported, kept to compare relink's output with (the "before").
  const exported = new InMemorySpanExporter();
  const processors = () => [
    new SimpleSpanProcessor(exported),
    ...endpoints.map((url) => new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` }))),
  ];
  const producer = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'uploader', 'cloud.provider': 'aws', 'cloud.region': REGION }),
    spanProcessors: processors(),
  });
  // The global context manager and W3C propagator, as an application's SDK setup registers.
  producer.register();
  const consumer = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': FUNCTION, 'cloud.provider': 'aws', 'cloud.region': REGION, 'faas.name': FUNCTION,
    }),
    spanProcessors: processors(),
  });

  const hooks = createAwsSdkHooks({ keyNames: KEY_NAMES });
  const sdk = new AwsInstrumentation({ preRequestHook: hooks.preRequestHook, responseHook: hooks.responseHook });
  sdk.setTracerProvider(producer);
  // The Lambda instrumentation finds the handler as the Lambda runtime does.
  process.env.LAMBDA_TASK_ROOT = __dirname;
  process.env._HANDLER = 'consumer.handler';
  process.env.AWS_LAMBDA_FUNCTION_NAME = FUNCTION;
  const lambda = new AwsLambdaInstrumentation({ requestHook: createLambdaRequestHook() });
  lambda.setTracerProvider(consumer);
  const { handler } = require(path.join(__dirname, 'consumer.js'));

  const lambdaContext = (awsRequestId) => ({
    functionName: FUNCTION,
    functionVersion: '$LATEST',
    invokedFunctionArn: FUNCTION_ARN,
    memoryLimitInMB: '128',
    awsRequestId,
    logGroupName: `/aws/lambda/${FUNCTION}`,
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 30000,
  });
  const invocations = new Map();
  return {
    producer,
    consumer,
    tracer: producer.getTracer('uploader.app'),
    /** {request id (the span's faas.invocation_id): event} of every invocation. */
    invocations,
    /** The spans as the SDK exported them. */
    exported: () => exported.getFinishedSpans(),
    /** Invokes the instrumented consumer as Lambda would, with the request id Lambda gave
     *  the invocation (an `Invoke` call's, or a fresh one). */
    invoke: (event, id = crypto.randomUUID()) => {
      invocations.set(id, event);
      return handler(event, lambdaContext(id));
    },
    /** Runs `fn` with instrumentation suppressed (what AWS does, not the application). */
    quietly: (fn) => context.with(suppressTracing(context.active()), fn),
    async shutdown() {
      sdk.disable();
      lambda.disable();
      await producer.shutdown();
      await consumer.shutdown();
    },
  };
}

function clients(endpoint) {
  const options = {
    endpoint, region: REGION, forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  const { S3Client } = require('@aws-sdk/client-s3');
  const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
  const { DynamoDBStreamsClient } = require('@aws-sdk/client-dynamodb-streams');
  const { SQSClient } = require('@aws-sdk/client-sqs');
  const { SNSClient } = require('@aws-sdk/client-sns');
  const { SFNClient } = require('@aws-sdk/client-sfn');
  const { LambdaClient } = require('@aws-sdk/client-lambda');
  return {
    s3: new S3Client(options), ddb: new DynamoDBClient(options), streams: new DynamoDBStreamsClient(options),
    sqs: new SQSClient(options), sns: new SNSClient(options), sfn: new SFNClient(options),
    lambda: new LambdaClient(options), endpoint,
  };
}

const command = (module, name, input) => new (require(module)[name])(input);
const s3 = (name, input) => command('@aws-sdk/client-s3', `${name}Command`, input);
const ddb = (name, input) => command('@aws-sdk/client-dynamodb', `${name}Command`, input);
const streams = (name, input) => command('@aws-sdk/client-dynamodb-streams', `${name}Command`, input);
const sqs = (name, input) => command('@aws-sdk/client-sqs', `${name}Command`, input);
const sns = (name, input) => command('@aws-sdk/client-sns', `${name}Command`, input);
const sfn = (name, input) => command('@aws-sdk/client-sfn', `${name}Command`, input);
const lambda = (name, input) => command('@aws-sdk/client-lambda', `${name}Command`, input);

async function queue(t, c, name) {
  return t.quietly(async () => {
    const { QueueUrl } = await c.sqs.send(sqs('CreateQueue', { QueueName: name }));
    const { Attributes } = await c.sqs.send(sqs('GetQueueAttributes', { QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl, arn: Attributes.QueueArn };
  });
}

/** Every message in the queue once at least `expected` have arrived and it reads empty (bounded). */
async function drain(t, c, q, expected, isWanted = () => true) {
  const messages = [];
  const deadline = Date.now() + 15000;
  await t.quietly(async () => {
    while (Date.now() < deadline) {
      const answer = await c.sqs.send(sqs('ReceiveMessage', {
        QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'],
      }));
      const got = answer.Messages || [];
      for (const m of got) {
        messages.push(m);
        await c.sqs.send(sqs('DeleteMessage', { QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle }));
      }
      if (got.length === 0 && messages.filter(isWanted).length >= expected) break;
    }
  });
  return messages;
}

/** An SQS message as the SQS event source mapping hands it to a function. */
function lambdaSqsRecord(message, q) {
  const messageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes || {})) {
    messageAttributes[name] = {
      stringValue: value.StringValue, binaryValue: value.BinaryValue && Buffer.from(value.BinaryValue).toString('base64'),
      stringListValues: [], binaryListValues: [], dataType: value.DataType,
    };
  }
  return {
    messageId: message.MessageId, receiptHandle: message.ReceiptHandle, body: message.Body,
    attributes: message.Attributes || {}, messageAttributes, md5OfBody: message.MD5OfBody,
    eventSource: 'aws:sqs', eventSourceARN: q.arn, awsRegion: REGION,
  };
}

/** PutObject, CopyObject, a multipart upload -> S3 notifications -> one invocation each. */
async function s3Flow(t, c) {
  const bucket = 'inbox';
  const q = await queue(t, c, 'uploads');
  await t.quietly(async () => {
    await c.s3.send(s3('CreateBucket', { Bucket: bucket }));
    await c.s3.send(s3('PutBucketNotificationConfiguration', {
      Bucket: bucket,
      NotificationConfiguration: { QueueConfigurations: [{ QueueArn: q.arn, Events: ['s3:ObjectCreated:*'] }] },
    }));
  });
  await t.tracer.startActiveSpan('POST /upload', SERVER, async (root) => {
    await c.s3.send(s3('PutObject', { Bucket: bucket, Key: 'dir/my file.txt', Body: 'hello relink' }));
    await c.s3.send(s3('CopyObject', { Bucket: bucket, Key: 'copies/report 1.txt', CopySource: `${bucket}/dir/my%20file.txt` }));
    const { UploadId } = await c.s3.send(s3('CreateMultipartUpload', { Bucket: bucket, Key: 'big/part.bin' }));
    const part = await c.s3.send(s3('UploadPart', {
      Bucket: bucket, Key: 'big/part.bin', UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 'x'),
    }));
    await c.s3.send(s3('CompleteMultipartUpload', {
      Bucket: bucket, Key: 'big/part.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
    }));
    root.end();
  });
  await t.producer.forceFlush();
  const events = [];
  for (const m of await drain(t, c, q, 3, (m) => m.Body.includes('"Records"'))) {
    const event = JSON.parse(m.Body);
    if (!('Records' in event)) continue; // the s3:TestEvent sent when notifications are set up
    events.push(event);
    await t.invoke(event);
  }
  return events;
}

function lambdaAttribute(value) {
  const [[kind, inner]] = Object.entries(value);
  if (kind === 'B') return { B: Buffer.from(inner).toString('base64') };
  if (kind === 'M') return { M: Object.fromEntries(Object.entries(inner).map(([k, v]) => [k, lambdaAttribute(v)])) };
  if (kind === 'L') return { L: inner.map(lambdaAttribute) };
  return { [kind]: inner };
}

/** A GetRecords record (as the SDK parsed it) -> the record Lambda hands a function. */
function lambdaStreamRecord(record, streamArn) {
  const stream = { ...record.dynamodb };
  if (stream.ApproximateCreationDateTime instanceof Date) {
    stream.ApproximateCreationDateTime = Math.floor(stream.ApproximateCreationDateTime.getTime() / 1000);
  }
  for (const image of ['Keys', 'NewImage', 'OldImage']) {
    if (stream[image]) stream[image] = Object.fromEntries(Object.entries(stream[image]).map(([k, v]) => [k, lambdaAttribute(v)]));
  }
  return { ...record, dynamodb: stream, eventSourceARN: streamArn };
}

/** PutItem, an UpdateItem upsert, DeleteItem -> one stream batch -> one invocation. */
async function dynamodbFlow(t, c) {
  const table = 'orders';
  const { streamArn, iterator } = await t.quietly(async () => {
    await c.ddb.send(ddb('CreateTable', {
      TableName: table,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }));
    await c.ddb.send(ddb('PutItem', { TableName: table, Item: { pk: { S: 'order#3' }, sk: { N: '1' } } }));
    const arn = (await c.ddb.send(ddb('DescribeTable', { TableName: table }))).Table.LatestStreamArn;
    const { StreamDescription } = await c.streams.send(streams('DescribeStream', { StreamArn: arn }));
    const { ShardIterator } = await c.streams.send(streams('GetShardIterator', {
      StreamArn: arn, ShardId: StreamDescription.Shards[0].ShardId, ShardIteratorType: 'LATEST',
    }));
    return { streamArn: arn, iterator: ShardIterator };
  });
  await t.tracer.startActiveSpan('POST /orders', SERVER, async (root) => {
    await c.ddb.send(ddb('PutItem', {
      TableName: table, Item: { pk: { S: 'order#1' }, sk: { N: '1' }, blob: { B: Buffer.from('\x00\x01relink', 'latin1') } },
    }));
    await c.ddb.send(ddb('UpdateItem', {
      TableName: table, Key: { pk: { S: 'order#2' }, sk: { N: '2' } }, UpdateExpression: 'SET #t = :t',
      ExpressionAttributeNames: { '#t': 'total' }, ExpressionAttributeValues: { ':t': { N: '12' } },
    }));
    await c.ddb.send(ddb('DeleteItem', { TableName: table, Key: { pk: { S: 'order#3' }, sk: { N: '1' } } }));
    root.end();
  });
  await t.producer.forceFlush();
  const { Records } = await t.quietly(() => c.streams.send(streams('GetRecords', { ShardIterator: iterator })));
  const event = { Records: Records.map((r) => lambdaStreamRecord(r, streamArn)) };
  await t.invoke(event);
  return [event];
}

/** SendMessage -> the SQS event source mapping -> one invocation. */
async function sqsFlow(t, c) {
  const q = await queue(t, c, 'orders-in');
  let sent;
  await t.tracer.startActiveSpan('POST /enqueue', SERVER, async (root) => {
    sent = await c.sqs.send(sqs('SendMessage', { QueueUrl: q.url, MessageBody: '{"order":"order#1"}' }));
    root.end();
  });
  await t.producer.forceFlush();
  const messages = await drain(t, c, q, 1);
  const event = { Records: messages.map((m) => lambdaSqsRecord(m, q)) };
  await t.invoke(event);
  return { event, messageId: sent.MessageId };
}

/** Publish -> SNS delivers the envelope to a subscribed queue -> SQS event -> one invocation. */
async function snsFlow(t, c) {
  const q = await queue(t, c, 'notifications');
  const topicArn = await t.quietly(async () => {
    const { TopicArn } = await c.sns.send(sns('CreateTopic', { Name: 'order-events' }));
    await c.sns.send(sns('Subscribe', { TopicArn, Protocol: 'sqs', Endpoint: q.arn }));
    return TopicArn;
  });
  let published;
  await t.tracer.startActiveSpan('POST /notify', SERVER, async (root) => {
    published = await c.sns.send(sns('Publish', { TopicArn: topicArn, Message: '{"order":"order#2"}' }));
    root.end();
  });
  await t.producer.forceFlush();
  const messages = await drain(t, c, q, 1);
  const event = { Records: messages.map((m) => lambdaSqsRecord(m, q)) };
  await t.invoke(event);
  return { event, messageId: published.MessageId };
}

/** StartExecution -> the execution's history, as a deployment ships it to `/v1/events`. */
async function stepFunctionsFlow(t, c, postEvent) {
  const machineArn = await t.quietly(async () => {
    const { stateMachineArn } = await c.sfn.send(sfn('CreateStateMachine', {
      name: 'OrderFlow', roleArn: `arn:aws:iam::${ACCOUNT}:role/sfn`,
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } }),
    }));
    return stateMachineArn;
  });
  let started;
  await t.tracer.startActiveSpan('POST /checkout', SERVER, async (root) => {
    started = await c.sfn.send(sfn('StartExecution', { stateMachineArn: machineArn, name: 'order-1', input: '{}' }));
    root.end();
  });
  await t.producer.forceFlush();
  const history = await t.quietly(() => c.sfn.send(sfn('GetExecutionHistory', { executionArn: started.executionArn })));
  const payload = { executionArn: started.executionArn, events: history.events };
  await postEvent(JSON.stringify(payload));
  return { executionArn: started.executionArn, history: payload };
}

/**
 * An asynchronous `Invoke` (`InvocationType: Event`) -> one invocation. moto's Lambda
 * without Docker (switched on through its config API) answers with a request id and runs
 * nothing; the consumer is then invoked as Lambda would, with that request id and without
 * the call's ClientContext (Lambda passes it to synchronous calls only).
 */
async function invokeFlow(t, c) {
  const moto = async (url, init) => {
    const answer = await fetch(`${c.endpoint}${url}`, init);
    if (!answer.ok) throw new Error(`${url}: ${answer.status} ${await answer.text()}`);
  };
  await moto('/moto-api/config', { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) });
  // The function's role must exist; the Node suite has no IAM client, so the query API.
  const role = new URLSearchParams({
    Action: 'CreateRole', Version: '2010-05-08', RoleName: 'processor-role', AssumeRolePolicyDocument: '{}',
  });
  await moto('/', {
    method: 'POST', body: role.toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
  });
  await t.quietly(() => c.lambda.send(lambda('CreateFunction', {
    FunctionName: FUNCTION, Runtime: 'nodejs20.x', Handler: 'consumer.handler',
    Role: `arn:aws:iam::${ACCOUNT}:role/processor-role`,
    Code: { ZipFile: Buffer.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]) }, // an empty zip
  })));
  const payload = { report: 'daily' };
  let called;
  await t.tracer.startActiveSpan('POST /reports', SERVER, async (root) => {
    called = await c.lambda.send(lambda('Invoke', {
      FunctionName: FUNCTION, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)),
    }));
    root.end();
  });
  await t.producer.forceFlush();
  const requestId = called.$metadata.requestId;
  await t.invoke(payload, requestId);
  return { requestId, statusCode: called.StatusCode, destination: await destinationFlow(t, c, requestId, payload) };
}

/**
 * The invocation's `OnSuccess` destination, an SQS queue, and its dead-letter queue: moto
 * delivers neither, so Lambda's side is played (the record as the Lambda guide describes
 * it, the aws-lambda-java-libs fixture given this invocation's request id and function ARN;
 * the event with the dead-letter attributes the guide lists), and what moto's queues
 * deliver goes to the function as the SQS event source mapping hands it.
 */
async function destinationFlow(t, c, requestId, payload) {
  const q = await queue(t, c, 'report-sink');
  const dlq = await queue(t, c, 'report-dlq');
  const fixture = path.join(__dirname, '../../../../../tests/fixtures/aws-lambda-java-libs/lambda_destination_event.json');
  const record = JSON.parse(require('node:fs').readFileSync(fixture, 'utf8'));
  Object.assign(record.requestContext, {
    requestId, functionArn: `${FUNCTION_ARN}:$LATEST`, condition: 'Success', approximateInvokeCount: 1,
  });
  Object.assign(record, {
    requestPayload: payload, responseContext: { statusCode: 200, executedVersion: '$LATEST' }, responsePayload: {},
  });
  await t.quietly(() => c.sqs.send(sqs('SendMessage', { QueueUrl: q.url, MessageBody: JSON.stringify(record) })));
  const event = { Records: (await drain(t, c, q, 1)).map((m) => lambdaSqsRecord(m, q)) };
  await t.invoke(event);
  const MessageAttributes = {
    RequestID: { DataType: 'String', StringValue: requestId },
    ErrorCode: { DataType: 'Number', StringValue: '200' },
    ErrorMessage: { DataType: 'String', StringValue: 'Task timed out after 3.00 seconds' },
  };
  await t.quietly(() => c.sqs.send(sqs('SendMessage', {
    QueueUrl: dlq.url, MessageBody: JSON.stringify(payload), MessageAttributes,
  })));
  const deadLetter = { Records: (await drain(t, c, dlq, 1)).map((m) => lambdaSqsRecord(m, dlq)) };
  await t.invoke(deadLetter);
  return { event, deadLetter };
}

module.exports = {
  instrument, clients, s3Flow, dynamodbFlow, sqsFlow, snsFlow, stepFunctionsFlow, invokeFlow, KEY_NAMES,
};
