'use strict';
/**
 * Hooks for @opentelemetry/instrumentation-aws-sdk (AWS SDK for JavaScript v3) and
 * @opentelemetry/instrumentation-aws-lambda that record what relink joins on.
 *
 * What the instrumentations already record (read from their source: aws-sdk 0.78.0/0.79.0,
 * aws-lambda 0.75.0/0.76.0) is not repeated: `aws.s3.bucket`, `aws.kinesis.stream.name`,
 * `aws.dynamodb.table_names` (TableName / RequestItems), SQS SendMessage
 * `messaging.message.id`, `aws.request.id`. Added here:
 *   S3        aws.s3.key; relink.s3.etag (PutObject, CompleteMultipartUpload,
 *             CopyObject's CopyObjectResult.ETag)
 *   DynamoDB  relink.dynamodb.keys: the key (PutItem / UpdateItem / DeleteItem), or
 *             {table: [key, ...]} (BatchWriteItem minus UnprocessedItems,
 *             TransactWriteItems without ConditionCheck)
 *   SNS       messaging.message.id (Publish)
 *   ids       relink.message_ids, a string array: SQS SendMessageBatch MessageIds, SNS
 *             PublishBatch MessageIds, EventBridge PutEvents EventIds, Kinesis
 *             PutRecord(s) `ShardId:SequenceNumber`, SFN StartExecution executionArn
 *   Lambda    relink.event: the trigger event as JSON on the invocation span
 * The aws-sdk instrumentation calls `responseHook` only for successful calls, and wraps
 * both hooks in safeExecuteInTheMiddle; they still never throw.
 */

const DEFAULT_MAX_BYTES = 65536;
const MESSAGE_IDS = 'relink.message_ids';

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isBinary(value) {
  return value instanceof Uint8Array || (typeof Buffer !== 'undefined' && Buffer.isBuffer(value));
}

/** JSON with object keys sorted, so equal keys give equal text (and match the Python hooks). */
function stableStringify(value) {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * One key attribute value as {S|N|B: string}, or undefined. Accepts the low-level
 * client's typed form ({S: 'a'}, {N: '7'}, {B: Uint8Array}) and the document client's
 * native values (string, number, bigint, Uint8Array, NumberValue).
 */
function typedKeyValue(value) {
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number' && Number.isFinite(value)) return { N: String(value) };
  if (typeof value === 'bigint') return { N: value.toString() };
  if (isBinary(value)) return { B: Buffer.from(value).toString('base64') };
  if (!isObject(value)) return undefined;
  const kinds = Object.keys(value);
  if (kinds.length !== 1) {
    // lib-dynamodb NumberValue keeps the number's text in `value`.
    return kinds.includes('value') && typeof value.value === 'string' && value.constructor?.name === 'NumberValue'
      ? { N: value.value }
      : undefined;
  }
  const [kind] = kinds;
  const inner = value[kind];
  if (kind === 'S' && typeof inner === 'string') return { S: inner };
  if (kind === 'N' && (typeof inner === 'string' || typeof inner === 'number')) return { N: String(inner) };
  if (kind === 'B' && isBinary(inner)) return { B: Buffer.from(inner).toString('base64') };
  if (kind === 'B' && typeof inner === 'string') return { B: Buffer.from(inner, 'utf8').toString('base64') };
  return undefined;
}

function typedKeys(key) {
  if (!isObject(key) || Object.keys(key).length === 0) return undefined;
  const out = {};
  for (const [name, value] of Object.entries(key)) {
    const typed = typedKeyValue(value);
    if (!typed) return undefined;
    out[name] = typed;
  }
  return out;
}

function keysFromItem(item, names) {
  if (!isObject(item) || !Array.isArray(names) || names.length === 0) return undefined;
  const picked = {};
  for (const name of names) {
    if (!(name in item)) return undefined;
    picked[name] = item[name];
  }
  return typedKeys(picked);
}

function tableName(name) {
  if (typeof name === 'string' && name.startsWith('arn:') && name.includes(':table/')) {
    return name.split(':table/')[1].split('/')[0];
  }
  return name;
}

function ids(entries, field) {
  return Array.isArray(entries)
    ? entries.filter((e) => isObject(e) && typeof e[field] === 'string' && e[field] !== '').map((e) => e[field])
    : [];
}

function setString(span, attribute, value) {
  if (typeof value === 'string' && value !== '') span.setAttribute(attribute, value);
}

function setList(span, attribute, values) {
  if (values.length > 0) span.setAttribute(attribute, values);
}

/**
 * createAwsSdkHooks({ keyNames }) -> { preRequestHook, responseHook }.
 * keyNames: { table: ['pk', 'sk'] }, the key attribute names PutItem and batch puts
 * need; tables missing here are learned from CreateTable / DescribeTable responses.
 */
function createAwsSdkHooks(options = {}) {
  const configured = new Map(
    Object.entries(options.keyNames || {}).map(([table, names]) => [tableName(table), names])
  );
  const learned = new Map();
  const keyNames = (table) => configured.get(tableName(table)) || learned.get(tableName(table));

  function itemKeys(table, request) {
    if (!isObject(request)) return undefined;
    if ('Key' in request) return typedKeys(request.Key);
    return keysFromItem(request.Item, keyNames(table));
  }

  function batchItems(requestItems) {
    const items = [];
    for (const [table, requests] of Object.entries(isObject(requestItems) ? requestItems : {})) {
      for (const request of Array.isArray(requests) ? requests : []) {
        const keys = isObject(request) ? itemKeys(table, request.PutRequest || request.DeleteRequest) : undefined;
        if (keys) items.push({ table: tableName(table), keys });
      }
    }
    return items;
  }

  function transactItems(entries) {
    const items = [];
    for (const entry of Array.isArray(entries) ? entries : []) {
      for (const kind of ['Put', 'Update', 'Delete']) {
        const write = isObject(entry) ? entry[kind] : undefined;
        const keys = isObject(write) ? itemKeys(write.TableName, write) : undefined;
        if (keys) items.push({ table: tableName(write.TableName), keys });
      }
    }
    return items;
  }

  function dynamodb(span, command, input, data) {
    if (command === 'CreateTable' || command === 'DescribeTable') {
      const table = data.TableDescription || data.Table || {};
      const schema = Array.isArray(table.KeySchema) ? table.KeySchema : [];
      const names = [...schema]
        .sort((a, b) => (a.KeyType === 'HASH' ? 0 : 1) - (b.KeyType === 'HASH' ? 0 : 1))
        .map((entry) => entry.AttributeName);
      if (typeof table.TableName === 'string' && names.length && names.every((n) => typeof n === 'string')) {
        learned.set(table.TableName, names);
      }
      return;
    }
    let keys;
    if (command === 'PutItem') keys = keysFromItem(input.Item, keyNames(input.TableName));
    if (command === 'UpdateItem' || command === 'DeleteItem') keys = typedKeys(input.Key);
    if (keys) span.setAttribute('relink.dynamodb.keys', stableStringify(keys));
    let items;
    if (command === 'BatchWriteItem') {
      const unprocessed = new Set(batchItems(data.UnprocessedItems).map(stableStringify));
      items = batchItems(input.RequestItems).filter((item) => !unprocessed.has(stableStringify(item)));
    }
    if (command === 'TransactWriteItems') items = transactItems(input.TransactItems);
    if (items && items.length) {
      const byTable = {};
      for (const { table, keys: itemKeys } of items) (byTable[table] = byTable[table] || []).push(itemKeys);
      span.setAttribute('relink.dynamodb.keys', stableStringify(byTable));
    }
  }

  function preRequestHook(span, requestInfo) {
    try {
      const request = requestInfo && requestInfo.request;
      if (!request || !span.isRecording()) return;
      const input = isObject(request.commandInput) ? request.commandInput : {};
      if (request.serviceName === 'S3') setString(span, 'aws.s3.key', input.Key);
    } catch (_err) {
      // never break the AWS call
    }
  }

  function responseHook(span, responseInfo) {
    try {
      const response = responseInfo && responseInfo.response;
      if (!response || !response.request || !span.isRecording()) return;
      const { serviceName, commandName } = response.request;
      const input = isObject(response.request.commandInput) ? response.request.commandInput : {};
      const data = isObject(response.data) ? response.data : {};
      switch (serviceName) {
        case 'S3':
          if (commandName === 'PutObject' || commandName === 'CompleteMultipartUpload') {
            setString(span, 'relink.s3.etag', data.ETag);
          } else if (commandName === 'CopyObject' && isObject(data.CopyObjectResult)) {
            setString(span, 'relink.s3.etag', data.CopyObjectResult.ETag);
          }
          break;
        case 'DynamoDB':
          dynamodb(span, commandName, input, data);
          break;
        case 'SQS':
          if (commandName === 'SendMessageBatch') setList(span, MESSAGE_IDS, ids(data.Successful, 'MessageId'));
          break;
        case 'SNS':
          if (commandName === 'Publish') setString(span, 'messaging.message.id', data.MessageId);
          if (commandName === 'PublishBatch') setList(span, MESSAGE_IDS, ids(data.Successful, 'MessageId'));
          break;
        case 'EventBridge':
          if (commandName === 'PutEvents') setList(span, MESSAGE_IDS, ids(data.Entries, 'EventId'));
          break;
        case 'Kinesis':
          if (commandName === 'PutRecord' || commandName === 'PutRecords') {
            const records = (commandName === 'PutRecord' ? [data] : data.Records || []).filter(
              (r) => isObject(r) && typeof r.ShardId === 'string' && typeof r.SequenceNumber === 'string'
            );
            setList(span, MESSAGE_IDS, records.map((r) => `${r.ShardId}:${r.SequenceNumber}`));
          }
          break;
        case 'SFN':
          if (commandName === 'StartExecution' || commandName === 'StartSyncExecution') {
            if (typeof data.executionArn === 'string' && data.executionArn) setList(span, MESSAGE_IDS, [data.executionArn]);
          }
          break;
        default:
          break;
      }
    } catch (_err) {
      // never break the AWS call
    }
  }

  return { preRequestHook, responseHook };
}

function withoutImages(event) {
  if (!isObject(event) || !Array.isArray(event.Records)) return event;
  return {
    ...event,
    Records: event.Records.map((record) => {
      if (!isObject(record) || !isObject(record.dynamodb)) return record;
      const { NewImage, OldImage, ...stream } = record.dynamodb;
      return { ...record, dynamodb: stream };
    }),
  };
}

/** [jsonText | undefined, reduced, sizeInBytes], the same bound as the Python hook. */
function serialiseEvent(event, maxBytes = DEFAULT_MAX_BYTES) {
  let text;
  try {
    text = JSON.stringify(event);
  } catch (_err) {
    return [undefined, false, 0];
  }
  if (typeof text !== 'string') return [undefined, false, 0];
  const size = Buffer.byteLength(text, 'utf8');
  if (size <= maxBytes) return [text, false, size];
  const reduced = JSON.stringify(withoutImages(event));
  if (Buffer.byteLength(reduced, 'utf8') <= maxBytes) return [reduced, true, size];
  return [undefined, false, size];
}

/**
 * createLambdaRequestHook({ maxBytes, attribute }) -> requestHook for
 * AwsLambdaInstrumentation: puts the trigger event on the invocation span.
 */
function createLambdaRequestHook(options = {}) {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const attribute = options.attribute ?? 'relink.event';
  return function requestHook(span, hookInfo) {
    try {
      const [text, reduced, size] = serialiseEvent(hookInfo && hookInfo.event, maxBytes);
      if (text !== undefined) {
        span.setAttribute(attribute, text);
        if (reduced) span.setAttribute('relink.event.reduced', true);
      } else if (size > 0) {
        span.setAttribute('relink.event.omitted_bytes', size);
      }
    } catch (_err) {
      // never break the invocation
    }
  };
}

module.exports = {
  DEFAULT_MAX_BYTES,
  createAwsSdkHooks,
  createLambdaRequestHook,
  serialiseEvent,
  stableStringify,
  typedKeys,
};
