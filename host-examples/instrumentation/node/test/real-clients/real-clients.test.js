'use strict';
// The relink hooks under the real OpenTelemetry Node SDK and AWS SDK v3 clients, against
// moto_server, exported to `relink serve` (node --test; run by tests/clients/test_node_hooks.py
// inside `./build.sh test`). The assertions are those of tests/clients/test_real_clients.py,
// for the Node instrumentations' span shapes, plus SQS, SNS and Step Functions.
//
// Needs: `moto_server` (PyPI moto[server]; MOTO_SERVER, default .venv/bin/moto_server),
// `dist/relink` and `dist/relink.wasm` (RELINK, RELINK_COMPONENT). A missing one fails the
// test: nothing here is skipped.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const REPO = path.resolve(__dirname, '../../../../..');
const MOTO = process.env.MOTO_SERVER || path.join(REPO, '.venv/bin/moto_server');
const RELINK = process.env.RELINK || path.join(REPO, 'dist/relink');
const COMPONENT = process.env.RELINK_COMPONENT || path.join(REPO, 'dist/relink.wasm');
const LAMBDA_SCOPE = '@opentelemetry/instrumentation-aws-lambda';
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

// -- processes ----------------------------------------------------------------------

/** Spawns `command`, waits (bounded) for `pattern` on its stderr/stdout; resolves the match. */
function start(command, args, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error(`${command}: not ready in 30 s:\n${seen}`)); }, 30000);
    const look = (chunk) => {
      seen += chunk;
      const m = seen.match(pattern);
      if (m) { clearTimeout(timer); resolve({ child, address: m[1], log: () => seen }); }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${command} exited ${code}:\n${seen}`)); });
  });
}

function stop(proc) {
  return new Promise((resolve) => {
    proc.child.removeAllListeners('exit');
    if (proc.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10000);
    proc.child.on('exit', () => { clearTimeout(timer); resolve(); });
    proc.child.kill('SIGTERM');
  });
}

async function relay(dir, name, config) {
  const configPath = path.join(dir, `${name}.json`);
  fs.writeFileSync(configPath, JSON.stringify(config));
  const out = path.join(dir, `${name}.jsonl`);
  const proc = await start(RELINK, ['serve', '--listen', '127.0.0.1:0', '--component', COMPONENT,
    '--config', configPath, '--out', out, '--workers', '1'], /listening on (http:\/\/[^/\s]+)\//);
  return { ...proc, url: proc.address, out };
}

// -- OTLP/JSON as the relay wrote it --------------------------------------------------

const value = (v) => {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('boolValue' in v) return v.boolValue;
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(value);
  return undefined;
};
const attributes = (list) => Object.fromEntries((list || []).map((kv) => [kv.key, value(kv.value)]));

/** [{resource, scope, span}] of every span in the relay's `--out` file. */
function spansOf(file) {
  const out = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    for (const rs of JSON.parse(line).resourceSpans || []) {
      const resource = attributes(rs.resource?.attributes);
      for (const ss of rs.scopeSpans || []) {
        for (const span of ss.spans || []) out.push({ resource, scope: ss.scope?.name, span, attrs: attributes(span.attributes) });
      }
    }
  }
  return out;
}

// -- pointers, computed independently (Datadog's published algorithm, tests/clients/pointers.py)

const pointerHash = (...elements) => crypto.createHash('sha256')
  .update(Buffer.concat(elements.flatMap((e, i) => [...(i ? [Buffer.from('|')] : []), Buffer.from(e)])))
  .digest('hex').slice(0, 32);

function s3Pointer(bucket, key, etag) {
  const bare = etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
  return pointerHash(bucket, key, bare);
}

function dynamodbPointer(table, keys) {
  const names = Object.keys(keys).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const elements = [table];
  for (const name of names) {
    const [[kind, v]] = Object.entries(keys[name]);
    elements.push(name, kind === 'B' ? Buffer.from(v, 'base64') : v);
  }
  if (names.length === 1) elements.push('', '');
  return pointerHash(...elements);
}

function eventPointers(event) {
  return event.Records.map((r) => {
    if (r.eventSource === 'aws:s3') {
      const key = decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '));
      return s3Pointer(r.s3.bucket.name, key, r.s3.object.eTag);
    }
    const table = r.eventSourceARN.split(':table/')[1].split('/')[0];
    return dynamodbPointer(table, r.dynamodb.Keys);
  });
}

function producerPointers(spans) {
  const found = new Map();
  for (const s of spans) {
    const a = s.attrs;
    if (a['relink.s3.etag']) found.set(s3Pointer(a['aws.s3.bucket'], a['aws.s3.key'], a['relink.s3.etag']), s);
    if (a['relink.dynamodb.keys']) {
      const [table] = a['aws.dynamodb.table_names'];
      found.set(dynamodbPointer(table, JSON.parse(a['relink.dynamodb.keys'])), s);
    }
  }
  return found;
}

const idOf = (s) => `${s.span.traceId}/${s.span.spanId}`;
const linksTo = (s, to) => (s.span.links || [])
  .filter((l) => l.traceId === to.span.traceId && l.spanId === to.span.spanId)
  .map((l) => attributes(l.attributes));

// -- the run --------------------------------------------------------------------------

let run;

test.before(async () => {
  try {
    await scenarioRun();
  } catch (e) {
    // node 20's runner reports only "failed running before hook": say why.
    console.error('the scenario failed:', e);
    throw e;
  }
});

async function scenarioRun() {
  for (const [what, file] of [['moto_server', MOTO], ['relink', RELINK], ['relink.wasm', COMPONENT]]) {
    assert.ok(fs.existsSync(file), `${what} not found at ${file} (./build.sh builds dist/, pip installs moto_server)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relink-node-real-'));
  const procs = [];
  try {
    const moto = await start(MOTO, ['-H', '127.0.0.1', '-p', '0'], /Running on (http:\/\/127\.0\.0\.1:\d+)\s/);
    procs.push(moto);
    const relays = { plain: await relay(dir, 'plain', {}) };
    procs.push(relays.plain);
    relays.adoption = await relay(dir, 'adoption', { adoption: { enabled: true } });
    procs.push(relays.adoption);
    const postEvent = async (body) => {
      for (const r of Object.values(relays)) {
        const answer = await fetch(`${r.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        assert.equal(answer.status, 200, `${r.url}/v1/events: ${await answer.text()}`);
      }
    };
    // Loaded only now: the instrumentation must patch the SDK before its first require.
    const scenario = require('./scenario');
    const t = scenario.instrument(Object.values(relays).map((r) => r.url));
    const c = scenario.clients(moto.address);
    const flows = {
      s3: await scenario.s3Flow(t, c),
      dynamodb: await scenario.dynamodbFlow(t, c),
      sqs: await scenario.sqsFlow(t, c),
      sns: await scenario.snsFlow(t, c),
      sfn: await scenario.stepFunctionsFlow(t, c, postEvent),
      invoke: await scenario.invokeFlow(t, c),
    };
    const before = t.exported().map((s) => ({
      name: s.name, traceId: s.spanContext().traceId, spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId, attrs: s.attributes, scope: s.instrumentationScope.name,
    }));
    await t.shutdown();
    // SIGTERM flushes each relay's --out file before it exits.
    for (const r of Object.values(relays)) await stop(r);
    run = { flows, before, events: t.invocations, plain: spansOf(relays.plain.out), adoption: spansOf(relays.adoption.out) };
  } finally {
    await Promise.all(procs.map(stop));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The Lambda invocation spans (SERVER, from the aws-lambda instrumentation). */
const invocations = (spans) => spans.filter((s) => s.scope === LAMBDA_SCOPE && s.span.kind === 2);
const byId = (spans) => new Map(spans.map((s) => [idOf(s), s]));

test('moto delivered every write', () => {
  const s3Events = run.flows.s3.flatMap((e) => e.Records.map((r) => r.eventName)).sort();
  assert.deepEqual(s3Events, ['ObjectCreated:CompleteMultipartUpload', 'ObjectCreated:Copy', 'ObjectCreated:Put', 'ObjectCreated:Put']);
  const [stream] = run.flows.dynamodb;
  assert.deepEqual(stream.Records.map((r) => [r.eventName, r.dynamodb.Keys.pk.S]),
    [['INSERT', 'order#1'], ['INSERT', 'order#2'], ['INSERT', 'order#2'], ['REMOVE', 'order#3']]);
  assert.equal(run.flows.sqs.event.Records.length, 1);
  assert.equal(run.flows.sns.event.Records.length, 1);
});

test('the real instrumentations recorded what relink joins on (hooks included)', () => {
  const names = new Set(run.plain.map((s) => s.span.name));
  for (const name of ['S3.PutObject', 'S3.CopyObject', 'S3.CompleteMultipartUpload', 'DynamoDB.PutItem',
    'DynamoDB.UpdateItem', 'DynamoDB.DeleteItem', 'SFN.StartExecution']) {
    assert.ok(names.has(name), `no ${name} span in ${[...names].join(', ')}`);
  }
  const pointers = producerPointers(run.plain);
  // Every record of every S3 and DynamoDB event names a pointer a producer span wrote.
  for (const event of [...run.flows.s3, ...run.flows.dynamodb]) {
    for (const p of eventPointers(event)) assert.ok(pointers.has(p), `no producer span for pointer ${p}`);
  }
  assert.equal(new Set([...pointers.values()].map((s) => s.span.name)).size, 6);
  const start = run.plain.find((s) => s.span.name === 'SFN.StartExecution');
  assert.deepEqual(start.attrs['relink.message_ids'], [run.flows.sfn.executionArn]);
});

test('producer and consumer traces start apart; relink removed the raw events it read', () => {
  const consumers = invocations(run.plain);
  // 4 S3 notifications, 1 stream batch, 1 SQS, 1 SNS-in-SQS, 1 Invoke, 1 destination
  // record, 1 dead letter
  assert.equal(consumers.length, 10);
  const producers = new Set(run.plain.filter((s) => s.resource['service.name'] === 'uploader').map((s) => s.span.traceId));
  assert.equal(producers.size, 6); // POST /upload, /orders, /enqueue, /notify, /checkout, /reports
  for (const c of consumers) assert.ok(!producers.has(c.span.traceId), `${c.span.name} starts in a producer trace`);
  // The hook put each trigger event on its invocation span; relink read it and removed it.
  const carried = run.before.filter((s) => s.scope === LAMBDA_SCOPE && s.attrs['relink.event']);
  assert.equal(carried.length, 10);
  for (const s of run.plain) assert.equal(s.attrs['relink.event'], undefined, `${s.span.name} kept relink.event`);
});

/** [(invocation span, its S3 or DynamoDB event)], by the span's faas.invocation_id. */
function storageInvocations(spans) {
  return invocations(spans)
    .map((s) => [s, run.events.get(s.attrs['faas.invocation_id'])])
    .filter(([, event]) => Array.isArray(event?.Records)
      && event.Records.every((r) => r.eventSource === 'aws:s3' || r.eventSource === 'aws:dynamodb'));
}

const pointerKind = (producer) => (producer.span.name.startsWith('S3.') ? 'aws.s3.object' : 'aws.dynamodb.item');

test('relink links every S3 and DynamoDB consumer to the producer span of each record', () => {
  const producers = producerPointers(run.plain);
  const consumers = storageInvocations(run.plain);
  assert.equal(consumers.length, 5); // 4 S3 notifications, 1 stream batch
  let links = 0;
  for (const [consumer, event] of consumers) {
    for (const p of new Set(eventPointers(event))) {
      const producer = producers.get(p);
      assert.deepEqual(linksTo(consumer, producer), [{
        'relink.rule': pointerKind(producer), 'relink.match': 'exact', 'relink.key': p, 'relink.peer': 'producer',
      }], `${consumer.span.name} -> ${producer.span.name}`);
      assert.ok(consumer.attrs['relink.rules'].includes(pointerKind(producer)));
      assert.ok(consumer.attrs['relink.pointer.hashes'].includes(p));
      links += 1;
    }
    assert.deepEqual(consumer.attrs['relink.matches'], ['exact']);
  }
  // 4 S3 records; the stream's 4 records name 3 items (order#2 twice).
  assert.equal(links, 7);
});

test('relink writes Datadog span-pointer links on both sides', () => {
  const producers = producerPointers(run.plain);
  const current = byId(run.plain);
  const pointerLinks = (s) => new Set((s.span.links || []).map((l) => attributes(l.attributes))
    .filter((a) => a['link.kind'] === 'span-pointer').map((a) => `${a['ptr.kind']}|${a['ptr.dir']}|${a['ptr.hash']}`));
  for (const [p, producer] of producers) {
    const kind = pointerKind(producer);
    assert.ok(pointerLinks(current.get(idOf(producer))).has(`${kind}|d|${p}`), `${producer.span.name} has no d pointer`);
  }
  for (const [consumer, event] of storageInvocations(run.plain)) {
    for (const p of eventPointers(event)) {
      assert.ok(pointerLinks(consumer).has(`${pointerKind(producers.get(p))}|u|${p}`), `${consumer.span.name}: no u pointer`);
    }
  }
  for (const s of run.plain) {
    for (const l of s.span.links || []) {
      if (attributes(l.attributes)['link.kind'] === 'span-pointer') assert.deepEqual([l.traceId, l.spanId], [ZERO_TRACE, ZERO_SPAN]);
    }
  }
});

test('relink links the SQS and SNS consumers to SendMessage and Publish by message id', () => {
  for (const [flow, rule, name] of [['sqs', 'aws.sqs.message', 'send'], ['sns', 'aws.sns.message', 'Publish']]) {
    const { messageId } = run.flows[flow];
    const producer = run.plain.find((s) => s.resource['service.name'] === 'uploader'
      && (s.attrs['messaging.message.id'] === messageId || s.attrs['messaging.message_id'] === messageId));
    assert.ok(producer, `${flow}: no producer span recorded message id ${messageId} (${name})`);
    const consumer = invocations(run.plain).find((s) => linksTo(s, producer).some((a) => a['relink.rule'] === rule));
    assert.ok(consumer, `${flow}: no invocation linked to ${producer.span.name} by ${rule}`);
    // relink.key: the id's join key, the pointer hash of (rule, id).
    assert.deepEqual(linksTo(consumer, producer).find((a) => a['relink.rule'] === rule), {
      'relink.rule': rule, 'relink.match': 'exact', 'relink.key': pointerHash(rule, messageId),
      'relink.peer': 'producer', 'messaging.message.id': messageId,
    });
    assert.ok(consumer.attrs['relink.rules'].includes(rule));
  }
});

test('relink links StartExecution and the execution span built from its history', () => {
  const { executionArn } = run.flows.sfn;
  const start = run.plain.find((s) => s.span.name === 'SFN.StartExecution');
  const execution = run.plain.find((s) => s.attrs['aws.stepfunctions.execution.arn'] === executionArn
    || Object.values(s.attrs).includes(executionArn) && s.span.spanId !== start.span.spanId && s.scope !== LAMBDA_SCOPE);
  assert.ok(execution, `no execution span for ${executionArn}`);
  // The execution arrived second (its history after the StartExecution export): it links back.
  const rule = 'aws.stepfunctions.execution';
  assert.deepEqual(linksTo(execution, start), [{
    'relink.rule': rule, 'relink.match': 'exact', 'relink.key': pointerHash(rule, executionArn),
    'relink.peer': 'producer', 'messaging.message.id': executionArn,
  }]);
});

test('without adoption relink keeps every span, trace and parent as the SDK made them', () => {
  const ids = (list) => list.map((s) => `${s.traceId}/${s.spanId}/${s.parentSpanId || ''}`).sort();
  // Less the workflow spans relink made from the execution's history (scope relink.stepfn).
  const made = run.plain.filter((s) => s.scope === 'relink.stepfn');
  assert.equal(made.length, 2); // the execution and its Pass state
  assert.deepEqual(ids(run.plain.filter((s) => !made.includes(s)).map((s) => s.span)), ids(run.before));
  // 6 server roots, 5 S3, 3 DynamoDB, SendMessage, Publish, StartExecution, Invoke; 10
  // invocations and the 4 SQS process spans the Lambda instrumentation adds for SQS events.
  assert.equal(run.before.length, 32);
});

test('relink links an asynchronous Invoke to the invocation it made, and adopts it under the call', () => {
  const { requestId, statusCode } = run.flows.invoke;
  assert.equal(statusCode, 202);
  // What the real instrumentations recorded: the call's request id on both sides (the
  // aws-sdk instrumentation also writes it as faas.execution on the call).
  const isCall = (s) => s.attrs['rpc.service'] === 'Lambda' && s.attrs['rpc.method'] === 'Invoke';
  const call = run.plain.find(isCall);
  assert.ok(call, 'no Lambda Invoke client span');
  assert.equal(call.attrs['aws.request.id'], requestId);
  assert.equal(call.attrs['faas.execution'], requestId);
  const invoked = invocations(run.plain).find((s) => s.attrs['faas.invocation_id'] === requestId);
  assert.ok(invoked, `no invocation span with faas.invocation_id ${requestId}`);
  assert.notEqual(invoked.span.traceId, call.span.traceId); // no context arrived
  assert.deepEqual(linksTo(invoked, call), [{
    'relink.rule': 'aws.lambda.invocation', 'relink.match': 'request-id',
    'relink.key': pointerHash('aws.lambda.invocation', requestId), 'relink.peer': 'producer',
  }]);
  const adopted = invocations(run.adoption).find((s) => s.attrs['faas.invocation_id'] === requestId);
  const adoptedCall = run.adoption.find(isCall);
  assert.equal(adopted.span.traceId, adoptedCall.span.traceId);
  assert.equal(adopted.span.parentSpanId, adoptedCall.span.spanId);
});

test('relink links the consumers of the invocation\'s destination record and dead letter to it, and adopts them under it', () => {
  const { requestId, destination } = run.flows.invoke;
  assert.equal(JSON.parse(destination.event.Records[0].body).requestContext.requestId, requestId);
  assert.equal(destination.deadLetter.Records[0].messageAttributes.RequestID.stringValue, requestId);
  const isSource = (s) => s.attrs['faas.invocation_id'] === requestId;
  const isCall = (s) => s.attrs['rpc.service'] === 'Lambda' && s.attrs['rpc.method'] === 'Invoke';
  for (const event of [destination.event, destination.deadLetter]) {
    const isConsumer = (s) => run.events.get(s.attrs['faas.invocation_id']) === event;
    const source = invocations(run.plain).find(isSource);
    const consumer = invocations(run.plain).find(isConsumer);
    assert.ok(consumer, 'no invocation span for the queue\'s message');
    assert.notEqual(consumer.span.traceId, source.span.traceId); // no context arrived
    assert.deepEqual(linksTo(consumer, source), [{
      'relink.rule': 'aws.lambda.destination', 'relink.match': 'request-id',
      'relink.key': pointerHash('aws.lambda.destination', requestId), 'relink.peer': 'producer',
    }]);
    // With adoption: the Invoke call, the invocation and the queue's consumer, one trace.
    const call = run.adoption.find(isCall);
    const adoptedSource = invocations(run.adoption).find(isSource);
    const adopted = invocations(run.adoption).find(isConsumer);
    assert.equal(adopted.span.traceId, call.span.traceId);
    assert.equal(adopted.span.parentSpanId, adoptedSource.span.spanId);
  }
});

test('with adoption every S3 and DynamoDB consumer joins its producer trace', () => {
  const producers = producerPointers(run.adoption);
  const consumers = storageInvocations(run.adoption);
  assert.equal(consumers.length, 5);
  for (const [consumer, event] of consumers) {
    const candidates = eventPointers(event).map((p) => producers.get(p));
    // The consumer root now sits under one of the spans that wrote what triggered it.
    assert.ok(candidates.some((prod) => prod.span.traceId === consumer.span.traceId
      && prod.span.spanId === consumer.span.parentSpanId), `${consumer.span.name} not adopted`);
    assert.ok(consumer.attrs['relink.rules'].includes('adoption'));
    const back = (consumer.span.links || []).filter((l) => attributes(l.attributes)['relink.rule'] === 'adoption');
    assert.deepEqual(back.map((l) => l.traceId), [consumer.attrs['relink.original_trace_id']]);
  }
  // The S3 and DynamoDB consumers joined the two producer requests' traces.
  const traces = new Set(consumers.map(([c]) => c.span.traceId));
  const roots = run.adoption.filter((s) => ['POST /upload', 'POST /orders'].includes(s.span.name)).map((s) => s.span.traceId);
  assert.deepEqual([...traces].sort(), roots.sort());
});
