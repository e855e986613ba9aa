// Canonical OTLP/JSON (what relink's encoder writes) -> the span model the waterfalls draw,
// and the before/after comparison that says which spans relink changed and how.
// Pure functions, no DOM: test/model.test.mjs runs them under node.

export const ZERO_TRACE = "00000000000000000000000000000000";
const KINDS = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
const STATUS = ["UNSET", "OK", "ERROR"];

export function kindName(kind) {
  return KINDS[kind] ?? `kind ${kind}`;
}

export function statusName(code) {
  return STATUS[code] ?? `status ${code}`;
}

// An OTLP AnyValue as a plain JS value (64-bit integers stay strings: exact).
export function anyValue(v) {
  if (v == null || typeof v !== "object") return null;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return String(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("bytesValue" in v) return `base64:${v.bytesValue}`;
  if ("arrayValue" in v) return (v.arrayValue.values ?? []).map(anyValue);
  if ("kvlistValue" in v) return attributes(v.kvlistValue.values);
  return null;
}

// OTLP KeyValue list -> [{key, value}] in order (duplicates kept: they are in the data).
export function attributes(list) {
  return (list ?? []).map((kv) => ({ key: kv.key, value: anyValue(kv.value) }));
}

export function attr(attrs, key) {
  const found = attrs.find((a) => a.key === key);
  return found ? found.value : undefined;
}

function nanos(s) {
  try {
    return BigInt(s ?? 0);
  } catch {
    return 0n;
  }
}

// A link without a real span to point at: Datadog span pointers have zero ids.
export function isPointerLink(link) {
  return !link.traceId || link.traceId === ZERO_TRACE || /^0*$/.test(link.spanId ?? "");
}

// Parses one or more OTLP/JSON texts (the outputs of several inputs) into one model.
// `source` says which input each span came from (index into `texts`).
export function parseRequests(texts) {
  const spans = [];
  texts.forEach((text, source) => {
    if (!text) return;
    const request = JSON.parse(text);
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributes(rs.resource?.attributes);
      const service = attr(resource, "service.name") ?? "unknown service";
      for (const ss of rs.scopeSpans ?? []) {
        const scope = ss.scope?.name ?? "";
        for (const s of ss.spans ?? []) {
          spans.push({
            key: `${s.traceId}/${s.spanId}`,
            traceId: s.traceId ?? "",
            spanId: s.spanId ?? "",
            parentSpanId: s.parentSpanId ?? "",
            name: s.name ?? "",
            kind: s.kind ?? 0,
            start: nanos(s.startTimeUnixNano),
            end: nanos(s.endTimeUnixNano),
            service,
            resource,
            scope,
            attrs: attributes(s.attributes),
            links: (s.links ?? []).map((l) => ({
              traceId: l.traceId ?? "",
              spanId: l.spanId ?? "",
              attrs: attributes(l.attributes),
            })),
            events: (s.events ?? []).map((e) => ({
              name: e.name ?? "",
              time: nanos(e.timeUnixNano),
              attrs: attributes(e.attributes),
            })),
            status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
            source,
          });
        }
      }
    }
  });
  return buildModel(spans);
}

// Groups spans into traces, each a depth-first list of rows (children under their parent,
// siblings by start time); traces ordered by their first span.
export function buildModel(spans) {
  const byTrace = new Map();
  for (const s of spans) {
    if (!byTrace.has(s.traceId)) byTrace.set(s.traceId, []);
    byTrace.get(s.traceId).push(s);
  }
  const traces = [];
  for (const [traceId, list] of byTrace) {
    const ids = new Set(list.map((s) => s.spanId));
    const children = new Map();
    const roots = [];
    for (const s of list) {
      if (s.parentSpanId && ids.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
        if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []);
        children.get(s.parentSpanId).push(s);
      } else {
        roots.push(s);
      }
    }
    const byStart = (a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
    const rows = [];
    const seen = new Set();
    const visit = (s, depth) => {
      if (seen.has(s.key)) return; // a cycle of parents in hostile input
      seen.add(s.key);
      rows.push({ span: s, depth, orphan: depth === 0 && !!s.parentSpanId });
      for (const c of (children.get(s.spanId) ?? []).sort(byStart)) visit(c, depth + 1);
    };
    roots.sort(byStart).forEach((r) => visit(r, 0));
    for (const s of list) if (!seen.has(s.key)) visit(s, 0);
    const start = list.reduce((m, s) => (s.start < m ? s.start : m), list[0].start);
    const end = list.reduce((m, s) => (s.end > m ? s.end : m), list[0].end);
    const services = [...new Set(rows.map((r) => r.span.service))];
    traces.push({ traceId, rows, start, end, services });
  }
  traces.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const index = new Map();
  for (const s of spans) index.set(s.spanId, s);
  return { traces, spans, index };
}

// Links between spans of the model, each drawn from producer to consumer: a link on span S
// to span T means T caused S, unless relink says the linked span is the consumer.
export function drawnLinks(model) {
  const out = [];
  const byKey = new Map(model.spans.map((s) => [s.key, s]));
  for (const s of model.spans) {
    for (const link of s.links) {
      if (isPointerLink(link)) continue;
      const target = byKey.get(`${link.traceId}/${link.spanId}`);
      const peer = attr(link.attrs, "relink.peer");
      out.push({
        holder: s,
        target: target ?? null,
        link,
        from: peer === "consumer" ? s : target,
        to: peer === "consumer" ? target : s,
      });
    }
  }
  return out;
}

// Counts the page and its test assert on.
export function summary(model) {
  let links = 0;
  let pointers = 0;
  let drawn = 0;
  for (const s of model.spans) {
    for (const l of s.links) {
      if (isPointerLink(l)) pointers += 1;
      else links += 1;
    }
  }
  for (const d of drawnLinks(model)) if (d.target) drawn += 1;
  return { traces: model.traces.length, spans: model.spans.length, links, pointers, drawn };
}

// What relink changed on each span of `after`, keyed by span key. Spans are matched on the
// span id (relink changes trace ids only by adoption and never makes a span id twice); a
// span without a match is one relink made (inferred from an event, built from a Step
// Functions execution record).
export function compare(before, after) {
  const old = new Map(before.spans.map((s) => [s.spanId, s]));
  const changes = new Map();
  for (const s of after.spans) {
    const b = old.get(s.spanId);
    const c = {
      added: !b,
      traceChanged: !!b && b.traceId !== s.traceId,
      parentChanged: !!b && b.parentSpanId !== s.parentSpanId,
      linksAdded: b ? Math.max(0, s.links.length - b.links.length) : s.links.length,
      relinkAttrs: s.attrs.filter((a) => a.key.startsWith("relink.")).map((a) => a.key),
      before: b ?? null,
    };
    c.relinked = c.added || c.traceChanged || c.parentChanged || c.linksAdded > 0 || relinkAttrsAdded(b, s);
    changes.set(s.key, c);
  }
  return changes;
}

function relinkAttrsAdded(b, s) {
  const had = new Set((b?.attrs ?? []).filter((a) => a.key.startsWith("relink.")).map((a) => a.key));
  return s.attrs.some((a) => a.key.startsWith("relink.") && !had.has(a.key));
}

// A gap the time axis shows as a break rather than to scale: over a minute and over ten
// times the time anything happened in. Spans days or years apart (an event fixture's 1970
// timestamp, two executions months apart) then stay readable; a hop of seconds between a
// write and its consumer stays to scale.
const BREAK_MIN_NS = 60_000_000_000n;
const BREAK_FACTOR = 10n;
export const BREAK_PX = 36;

// Maps times to x positions over [x0, x1]: busy periods (clusters of spans) get width by
// their duration, long idle gaps a fixed BREAK_PX. Returns {x(t), clusters, breaks}.
export function timeScale(models, x0, x1) {
  const intervals = [];
  for (const m of models) for (const s of m.spans) intervals.push([s.start, s.end > s.start ? s.end : s.start]);
  intervals.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged = [];
  for (const [a, b] of intervals) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) {
      if (b > last[1]) last[1] = b;
    } else merged.push([a, b]);
  }
  if (merged.length === 0) merged.push([0n, 1n]);
  const busy = merged.reduce((sum, [a, b]) => sum + (b - a), 0n);
  const threshold = busy * BREAK_FACTOR > BREAK_MIN_NS ? busy * BREAK_FACTOR : BREAK_MIN_NS;
  const clusters = [{ start: merged[0][0], end: merged[0][1] }];
  for (const [a, b] of merged.slice(1)) {
    const last = clusters[clusters.length - 1];
    if (a - last.end > threshold) clusters.push({ start: a, end: b });
    else if (b > last.end) last.end = b;
  }
  const breaks = clusters.length - 1;
  const room = Math.max(1, x1 - x0 - breaks * BREAK_PX);
  const total = clusters.reduce((sum, c) => sum + Number(c.end - c.start), 0);
  // A short busy period still gets room for its ticks and labels: about a tenth.
  const weights = clusters.map((c) => Math.max(Number(c.end - c.start), (total || 1) / 10));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  let x = x0;
  clusters.forEach((c, i) => {
    c.x0 = x;
    c.x1 = x + (room * weights[i]) / weightSum;
    x = c.x1 + BREAK_PX;
  });
  const at = (t) => {
    let c = clusters[0];
    for (const k of clusters) if (t >= k.start) c = k;
    const span = Number(c.end - c.start) || 1;
    const f = Math.min(1, Math.max(0, Number(t - c.start) / span));
    return c.x0 + f * (c.x1 - c.x0);
  };
  return {
    x: at,
    clusters,
    breaks: clusters.slice(1).map((c, i) => ({ x0: clusters[i].x1, x1: c.x0, duration: c.start - clusters[i].end })),
  };
}

// Nanoseconds as a short duration: 850 ns, 12.4 ms, 3.20 s, 2 min 5 s, 3.5 d, 47.5 y.
export function formatDuration(ns) {
  const n = Number(ns);
  if (n < 1e3) return `${n} ns`;
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)} µs`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} ms`;
  if (n < 60e9) return `${(n / 1e9).toFixed(2)} s`;
  if (n < 3600e9) return `${Math.floor(n / 60e9)} min ${Math.round((n % 60e9) / 1e9)} s`;
  if (n < 86400e9 * 2) return `${(n / 3600e9).toFixed(1)} h`;
  if (n < 86400e9 * 730) return `${(n / 86400e9).toFixed(1)} d`;
  return `${(n / (86400e9 * 365.25)).toFixed(1)} y`;
}

// Unix nanoseconds as an ISO time with milliseconds.
export function formatTime(ns) {
  const ms = Number(ns / 1000000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ns) : d.toISOString();
}

// Merges several OTLP/JSON requests into one (for the download).
export function mergeRequests(texts) {
  const resourceSpans = [];
  for (const t of texts) if (t) resourceSpans.push(...(JSON.parse(t).resourceSpans ?? []));
  return JSON.stringify({ resourceSpans }, null, 2);
}
