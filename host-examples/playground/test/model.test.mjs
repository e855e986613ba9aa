// The page's pure logic under node: OTLP/JSON -> traces and rows, link directions, what
// changed between before and after, input kind detection, config problem lines.

import assert from "node:assert/strict";
import { test } from "node:test";
import { fieldLine, messageLine } from "../js/config-editor.js";
import { detectKind } from "../js/inputs.js";
import {
  compare,
  drawnLinks,
  formatDuration,
  formatTime,
  mergeRequests,
  parseRequests,
  summary,
  timeScale,
  BREAK_PX,
} from "../js/model.js";

const T = "5b8efff798038103d269b633813fc60c";
const U = "0af7651916cd43dd8448eb211c80319c";

function span(traceId, spanId, parentSpanId, name, startMs, endMs, extra = {}) {
  return {
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name,
    kind: 2,
    startTimeUnixNano: String(1709929297000000000n + BigInt(startMs) * 1000000n),
    endTimeUnixNano: String(1709929297000000000n + BigInt(endMs) * 1000000n),
    ...extra,
  };
}

function request(service, spans) {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: "test" }, spans }],
      },
    ],
  });
}

const link = (traceId, spanId, attrs = {}) => ({
  traceId,
  spanId,
  attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
});

const producer = request("uploader", [
  span(T, "eee19b7ec3c1b174", "", "uploader", 0, 120),
  span(T, "b7ad6b7169203331", "eee19b7ec3c1b174", "S3.PutObject", 20, 50),
]);
const consumerBefore = request("thumbnailer", [
  span(U, "b9c7c989f97918e1", "", "thumbnailer", 900, 1020),
  span(U, "00f067aa0ba902b7", "b9c7c989f97918e1", "S3.GetObject", 910, 940),
]);
// After adoption: the consumer's spans moved into T, its root under the PutObject span.
const consumerAfter = request("thumbnailer", [
  span(T, "b9c7c989f97918e1", "b7ad6b7169203331", "thumbnailer", 900, 1020, {
    attributes: [{ key: "relink.original_trace_id", value: { stringValue: U } }],
    links: [
      link(T, "b7ad6b7169203331", { "relink.rule": "aws.s3.object", "relink.peer": "producer" }),
      link("00000000000000000000000000000000", "0000000000000000", { "ptr.dir": "u" }),
      link(U, "b9c7c989f97918e1", { "relink.rule": "adoption" }),
    ],
  }),
  span(T, "00f067aa0ba902b7", "b9c7c989f97918e1", "S3.GetObject", 910, 940),
]);

test("spans are grouped into traces, children under their parent", () => {
  const m = parseRequests([producer, consumerBefore]);
  assert.deepEqual(
    m.traces.map((t) => [t.traceId, t.services, t.rows.map((r) => `${"  ".repeat(r.depth)}${r.span.name}`)]),
    [
      [T, ["uploader"], ["uploader", "  S3.PutObject"]],
      [U, ["thumbnailer"], ["thumbnailer", "  S3.GetObject"]],
    ],
  );
  assert.deepEqual(m.spans.map((s) => s.source), [0, 0, 1, 1]);
  assert.equal(m.spans[1].start, 1709929297020000000n);
});

test("an adopted trace nests under the producer span", () => {
  const m = parseRequests([producer, consumerAfter]);
  assert.deepEqual(
    m.traces.map((t) => t.rows.map((r) => `${r.depth}:${r.span.name}`)),
    [["0:uploader", "1:S3.PutObject", "2:thumbnailer", "3:S3.GetObject"]],
  );
});

test("a span whose parent is not in view is a root marked orphan; parent cycles end", () => {
  const m = parseRequests([
    request("a", [span(T, "1111111111111111", "2222222222222222", "x", 0, 1), span(T, "2222222222222222", "1111111111111111", "y", 0, 1)]),
    request("b", [span(U, "3333333333333333", "9999999999999999", "z", 5, 6)]),
  ]);
  assert.deepEqual(
    m.traces.map((t) => t.rows.map((r) => [r.span.name, r.depth, r.orphan])),
    [[["x", 0, true], ["y", 1, false]], [["z", 0, true]]],
  );
});

test("links are drawn from producer to consumer; pointers and absent spans are not arrows", () => {
  const m = parseRequests([producer, consumerAfter]);
  const drawn = drawnLinks(m).map((d) => [d.from?.name ?? null, d.to?.name ?? null, d.target?.name ?? null]);
  assert.deepEqual(drawn, [
    ["S3.PutObject", "thumbnailer", "S3.PutObject"],
    [null, "thumbnailer", null],
  ]);
  assert.deepEqual(summary(m), { traces: 1, spans: 4, links: 2, pointers: 1, drawn: 1 });
  // A link the producer got to a consumer seen first points the other way.
  const reversed = parseRequests([
    request("uploader", [span(T, "b7ad6b7169203331", "", "S3.PutObject", 20, 50, { links: [link(U, "b9c7c989f97918e1", { "relink.peer": "consumer" })] })]),
    consumerBefore,
  ]);
  assert.deepEqual(drawnLinks(reversed).map((d) => [d.from.name, d.to.name]), [["S3.PutObject", "thumbnailer"]]);
});

test("compare says what relink changed on each span", () => {
  const before = parseRequests([producer, consumerBefore]);
  const after = parseRequests([producer, consumerAfter, request("aws.s3", [span(U, "4444444444444444", "", "inferred", 800, 800)])]);
  const c = compare(before, after);
  const row = (key) => {
    const { before: _b, ...rest } = c.get(key);
    return rest;
  };
  assert.deepEqual(row(`${T}/b9c7c989f97918e1`), {
    added: false,
    traceChanged: true,
    parentChanged: true,
    linksAdded: 3,
    relinkAttrs: ["relink.original_trace_id"],
    relinked: true,
  });
  assert.deepEqual(row(`${T}/00f067aa0ba902b7`), {
    added: false,
    traceChanged: true,
    parentChanged: false,
    linksAdded: 0,
    relinkAttrs: [],
    relinked: true,
  });
  assert.equal(c.get(`${T}/eee19b7ec3c1b174`).relinked, false);
  assert.deepEqual(row(`${U}/4444444444444444`), {
    added: true,
    traceChanged: false,
    parentChanged: false,
    linksAdded: 0,
    relinkAttrs: [],
    relinked: true,
  });
});

test("the time axis is to scale across a hop of seconds", () => {
  const scale = timeScale([parseRequests([producer]), parseRequests([consumerBefore])], 100, 1120);
  assert.equal(scale.breaks.length, 0);
  assert.deepEqual(
    [0n, 510n, 1020n].map((ms) => scale.x(1709929297000000000n + ms * 1000000n)),
    [100, 610, 1120],
  );
});

test("a long idle gap is a break of fixed width, each side by its duration", () => {
  const later = request("later", [span(U, "5555555555555555", "", "later", 0, 40)].map((s) => ({
    ...s,
    startTimeUnixNano: String(1709929297000000000n + 86_400_000_000_000n),
    endTimeUnixNano: String(1709929297000000000n + 86_400_040_000_000n),
  })));
  const scale = timeScale([parseRequests([producer, later])], 0, 1000 + BREAK_PX);
  assert.deepEqual(
    scale.breaks.map((b) => [b.x0, b.x1, formatDuration(b.duration)]),
    [[750, 750 + BREAK_PX, "24.0 h"]],
  );
  assert.equal(scale.x(1709929297120000000n), 750);
  assert.equal(scale.x(1709929297000000000n + 86_400_040_000_000n), 1000 + BREAK_PX);
  assert.deepEqual(timeScale([parseRequests([])], 0, 10).clusters.map((c) => [c.start, c.end, c.x0, c.x1]), [[0n, 1n, 0, 10]]);
});

test("durations and times are short and exact", () => {
  assert.deepEqual(
    [850n, 12_400n, 3_500_000n, 120_000_000n, 3_200_000_000n, 125_000_000_000n, 7_200_000_000_000n, 302_400_000_000_000n, 1_709_929_297_000_000_000n].map(formatDuration),
    ["850 ns", "12 µs", "3.50 ms", "120.0 ms", "3.20 s", "2 min 5 s", "2.0 h", "3.5 d", "54.2 y"],
  );
  assert.equal(formatTime(1709929297020000000n), "2024-03-08T20:21:37.020Z");
});

test("the download merges every output into one request", () => {
  const merged = JSON.parse(mergeRequests([producer, "", consumerAfter]));
  assert.deepEqual(
    merged.resourceSpans.map((rs) => rs.resource.attributes[0].value.stringValue),
    ["uploader", "thumbnailer"],
  );
});

test("auto-detection sends OTLP to the traces decoder and anything else to the event decoder", () => {
  assert.equal(detectKind(null, null), "traces");
  assert.equal(detectKind(null, producer), "traces");
  assert.equal(detectKind(null, '{"resource_spans": []}'), "traces");
  assert.equal(detectKind(null, '{"Records": []}'), "event");
  assert.equal(detectKind(null, "[1, 2]"), "event");
  assert.equal(detectKind(null, '{"resourceSpans": ['), "traces");
  assert.equal(detectKind(null, '{"Records": ['), "event");
  const line = '{"id":"1","type":"ExecutionStarted","event_timestamp":"1","execution_arn":"arn:x"}';
  assert.equal(detectKind(null, `${line}\n${line}\n`), "sfn-logs");
  assert.equal(detectKind(null, line), "sfn-logs");
  assert.equal(detectKind(null, `[${line}]`), "sfn-logs");
  assert.equal(detectKind(null, `{"logEvents": [{"message": ${JSON.stringify(line)}}]}`), "sfn-logs");
  assert.equal(detectKind(null, '{"events": [{"id": 1, "type": "ExecutionStarted"}]}'), "sfn-history");
  assert.equal(detectKind(null, '{"id":"1", "execution_arn": "arn:x"\n{"id"'), "sfn-logs");
});

test("config problems point at their line", () => {
  const text = '{\n  "adoption": { "enabled": true },\n  "index": {\n    "ttl_seconds": 0\n  }\n}\n';
  assert.equal(fieldLine(text, "adoption.enabled"), 2);
  assert.equal(fieldLine(text, "index.ttl_seconds"), 4);
  assert.equal(fieldLine(text, "index.max_entries"), 3, "an unwritten field points at its section");
  assert.equal(fieldLine(text, "limits.max_links_per_span"), null);
  assert.equal(fieldLine('{"dynamodb": {"tables": {"t": ["a", "a"]}}}', "dynamodb.tables.t[0]"), 1);
  assert.equal(fieldLine('{"dynamodb": {"tables": {"": ["a"]}}}', "dynamodb.tables (table name)"), 1);
  assert.equal(messageLine("config: invalid json: expected ident at line 3 column 29"), 3);
  assert.equal(messageLine("config: `index.ttl_seconds` is 0"), null);
});
