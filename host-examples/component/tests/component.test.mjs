// dist/relink.wasm in Node, through jco (transpiled to ESM, WASI from preview2-shim).
//
// Replays the golden cases listed in cases.json, exactly as the Rust tests do natively and
// through wasmtime, and as test_component.py does in Python: same inputs and times, same
// expected outputs, error messages and counters.
//
// Run: (cd host-examples/component/tests && node --test), after host-examples/component/build.sh
// (which builds the component and installs jco and preview2-shim here).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const wasm = join(root, 'dist', 'relink.wasm');
// Inside node_modules: ignored by git, and the output's imports of
// @bytecodealliance/preview2-shim resolve to the copy installed here.
const out = join(here, 'node_modules', '.relink-jco');
const manifest = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8'));
const baseNow = BigInt(manifest.base_now);

assert.ok(existsSync(wasm), `${wasm} is missing: run host-examples/component/build.sh`);
execFileSync(join(here, 'node_modules', '.bin', 'jco'),
  ['transpile', wasm, '-o', out, '--name', 'relink', '--no-typescript', '--quiet']);
const { relinker } = await import(join(out, 'relink.js'));

// jco throws a ComponentError for a result's error case; its payload is the WIT variant.
function call(fn) {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e && Object.prototype.hasOwnProperty.call(e, 'payload')) return { err: e.payload };
    throw e;
  }
}

function flatten(value, prefix = '', out = {}) {
  for (const [key, inner] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (inner !== null && typeof inner === 'object') flatten(inner, path, out);
    else out[path] = inner;
  }
  return out;
}

// [n, path, isEvent]: input-N.json (OTLP) and event-N.* (raw payloads), by N.
function batches(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    let m = /^input-(\d+)\.json$/.exec(name);
    if (m) found.push([Number(m[1]), join(dir, name), false]);
    m = /^event-(\d+)\./.exec(name);
    if (m) found.push([Number(m[1]), join(dir, name), true]);
  }
  return found.sort((a, b) => a[0] - b[0]);
}

const bytes = (path) => new Uint8Array(readFileSync(path));
const json = (data) => JSON.parse(new TextDecoder().decode(data));

test('every golden case is replayed', () => {
  const dir = join(root, manifest.golden);
  const folders = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  assert.deepEqual(manifest.cases, folders);
  assert.equal(folders.length, 19);
});

for (const name of manifest.cases) {
  test(`golden case ${name}`, () => {
    const dir = join(root, manifest.golden, name);
    const processor = relinker.Processor.create(readFileSync(join(dir, 'config.json'), 'utf8'));
    const summary = JSON.parse(readFileSync(join(dir, 'counters.json'), 'utf8'));
    const errors = [];
    for (const [n, path, isEvent] of batches(dir)) {
      const data = bytes(path);
      const now = baseNow + BigInt(n) * 1_000_000_000n;
      if (isEvent) {
        const e = call(() => processor.processEvent(data, undefined, now));
        assert.equal(e.err, undefined);
        assert.deepEqual(json(e.ok), json(bytes(join(dir, `expected-${n}.json`))), `${name} event-${n}`);
        continue;
      }
      const r = call(() => processor.processTraces(data, 'auto', now));
      if (r.err) {
        assert.equal(r.err.tag, 'decode');
        errors.push(`input-${n}: ${r.err.val}`);
        continue;
      }
      const expected = bytes(join(dir, `expected-${n}.json`));
      if (Buffer.from(expected).equals(Buffer.from(data))) {
        assert.ok(Buffer.from(r.ok).equals(Buffer.from(data)), `${name} input-${n}: expected the input bytes back`);
      } else {
        assert.deepEqual(json(r.ok), json(expected), `${name} input-${n}`);
      }
    }
    assert.deepEqual(errors, summary.errors);
    const counters = Object.fromEntries(processor.counters().map((c) => [c.name, Number(c.value)]));
    // Allocation sizes differ between wasm32 and the native build the golden file records.
    delete counters['index.memory_bytes'];
    assert.deepEqual(counters, flatten(summary.counters));
  });
}

for (const c of manifest.config_errors) {
  test(`config rejected: ${c.config}`, () => {
    const r = call(() => relinker.Processor.create(c.config));
    assert.deepEqual(r.err, { tag: 'config', val: c.errors });
  });
}

for (const c of manifest.events) {
  test(`event entry point: ${c.expected}`, () => {
    const processor = relinker.Processor.create('{}');
    const context = c.context === null ? undefined : {
      invocationStartUnixNano: c.context.invocation_start_unix_nano === null
        ? undefined : BigInt(c.context.invocation_start_unix_nano),
      serviceName: c.context.service_name ?? undefined,
      executionArn: c.context.execution_arn ?? undefined,
    };
    const r = call(() => processor.processEvent(bytes(join(root, c.event)), context, baseNow));
    assert.equal(r.err, undefined);
    assert.deepEqual(json(r.ok), JSON.parse(readFileSync(join(root, c.expected), 'utf8')));
  });
}

for (const c of manifest.event_errors) {
  test(`event rejected: ${c.event}`, () => {
    const processor = relinker.Processor.create('{}');
    const r = call(() => processor.processEvent(new TextEncoder().encode(c.event), undefined, baseNow));
    assert.deepEqual([r.err.tag, r.err.val], c.error);
  });
}

const logExpected = JSON.parse(readFileSync(join(root, 'host-examples/component/tests/log-records.expected.json'), 'utf8'));
for (const sequence of manifest.log_records) {
  test(`log records: ${sequence.name}`, () => {
    // One processor per sequence: it remembers request ids across records.
    const processor = relinker.Processor.create('{}');
    const got = sequence.records.map((record) => {
      const r = call(() => processor.processLog(new TextEncoder().encode(record)));
      return r.err ? { error: [r.err.tag, r.err.val] } : { output: new TextDecoder().decode(r.ok) };
    });
    assert.deepEqual(got, logExpected[sequence.name]);
  });
}
