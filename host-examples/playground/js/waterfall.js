// The waterfall: one SVG per side. Traces are blocks; in a block each row is a span in
// parent/child order, labelled with its service (a colour shared by both sides) and name,
// its bar placed on the time axis both sides share. Span links are arrows from producer to
// consumer; spans relink changed are highlighted. Plain SVG, so a screenshot shows
// exactly what a user sees.

import { drawnLinks, formatDuration, isPointerLink, summary, timeScale } from "./model.js";

const SVG = "http://www.w3.org/2000/svg";
const ROW = 22;
const TRACE_HEAD = 24;
const AXIS = 28;
const PAD = 12;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function clip(text, chars) {
  return text.length > chars ? `${text.slice(0, Math.max(1, chars - 1))}…` : text;
}

// Tick step (ns) giving about `count` ticks over `span` ns: 1, 2 or 5 times a power of ten.
function tickStep(span, count) {
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

// Draws `model` into `container` (emptied first). `options`: timeModels (every model the
// shared time axis covers), changes (Map from compare(), or null for the before side), colorOf(service),
// selected (span key), onSelect(key), empty (message when there is nothing to draw).
export function renderWaterfall(container, model, options) {
  container.replaceChildren();
  const stats = summary(model);
  container.dataset.traces = String(stats.traces);
  container.dataset.spans = String(stats.spans);
  container.dataset.links = String(stats.links);
  container.dataset.arrows = String(stats.drawn);
  container.dataset.pointers = String(stats.pointers);
  if (model.spans.length === 0) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = options.empty ?? "No spans.";
    container.append(p);
    return;
  }
  const width = Math.max(520, container.clientWidth || 640);
  const labelW = Math.round(Math.min(280, width * 0.4));
  const barW = width - labelW - PAD * 2;
  const scale = timeScale(options.timeModels ?? [model], labelW + PAD, labelW + PAD + barW);
  const x = scale.x;

  let y = AXIS;
  const placed = new Map(); // span key -> {y, x0, x1}
  const rowsG = el("g", { class: "rows" });
  for (const trace of model.traces) {
    const head = el("g", { class: "trace-head", "data-trace": trace.traceId });
    head.append(el("rect", { x: 0, y, width, height: TRACE_HEAD, class: "trace-band" }));
    const n = trace.rows.length;
    head.append(
      el(
        "text",
        { x: 6, y: y + 16, class: "trace-title" },
        `trace ${trace.traceId.slice(0, 8)}… · ${n} span${n === 1 ? "" : "s"} · ${trace.services.join(", ")}`,
      ),
    );
    rowsG.append(head);
    y += TRACE_HEAD;
    for (const row of trace.rows) {
      const s = row.span;
      const change = options.changes?.get(s.key);
      const relinked = !!change?.relinked;
      const g = el("g", {
        class: `span-row${relinked ? " relinked" : ""}${change?.added ? " added" : ""}${
          options.selected === s.key ? " selected" : ""
        }`,
        "data-key": s.key,
        "data-service": s.service,
        tabindex: 0,
      });
      g.append(el("rect", { x: 0, y, width, height: ROW, class: "row-bg" }));
      const indent = 8 + row.depth * 12;
      g.append(el("circle", { cx: indent + 4, cy: y + ROW / 2, r: 4, fill: options.colorOf(s.service) }));
      if (row.orphan) {
        g.append(el("line", { x1: indent - 6, y1: y + 3, x2: indent - 6, y2: y + ROW / 2, class: "orphan" }));
      }
      const labelChars = Math.floor((labelW - indent - 14) / 6.6);
      const label = el("text", { x: indent + 12, y: y + 15, class: "label" });
      label.append(el("tspan", { class: "svc" }, clip(s.service, Math.max(4, Math.floor(labelChars / 2)))));
      label.append(el("tspan", { dx: 6 }, clip(s.name, Math.max(4, labelChars - Math.min(s.service.length, labelChars / 2) - 1))));
      g.append(label);
      const x0 = x(s.start);
      const x1 = Math.max(x0 + 2, x(s.end > s.start ? s.end : s.start));
      g.append(
        el("rect", {
          x: x0,
          y: y + 4,
          width: x1 - x0,
          height: ROW - 8,
          rx: 2,
          fill: options.colorOf(s.service),
          class: `bar${s.status.code === 2 ? " error" : ""}`,
        }),
      );
      const notes = [formatDuration(s.end > s.start ? s.end - s.start : 0n)];
      if (s.links.some(isPointerLink)) notes.push("◆ pointer");
      if (change?.added) notes.push("new");
      else if (change?.traceChanged) notes.push("adopted");
      const note = notes.join(" · ");
      const noteX = x1 + 5 + note.length * 6 < width ? x1 + 5 : x0 - 5;
      g.append(el("text", { x: noteX, y: y + 15, class: "note", "text-anchor": noteX < x0 ? "end" : "start" }, note));
      g.append(el("title", {}, `${s.service} · ${s.name} · ${notes.join(" · ")}`));
      rowsG.append(g);
      placed.set(s.key, { y: y + ROW / 2, x0, x1 });
      y += ROW;
    }
    y += 6;
  }
  const height = y + 4;
  const svg = el("svg", {
    class: "waterfall",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${stats.traces} traces, ${stats.spans} spans, ${stats.drawn} links`,
  });
  svg.append(defs());
  svg.append(axis(scale, labelW, height));
  svg.append(rowsG);
  svg.append(arrows(model, placed, labelW));
  svg.addEventListener("click", (e) => {
    const row = e.target.closest?.(".span-row");
    if (row) options.onSelect?.(row.dataset.key);
  });
  svg.addEventListener("keydown", (e) => {
    const row = e.target.closest?.(".span-row");
    if (row && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      options.onSelect?.(row.dataset.key);
    }
  });
  container.append(svg);
}

function defs() {
  const d = el("defs");
  const m = el("marker", {
    id: "arrowhead",
    viewBox: "0 0 10 10",
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: "auto-start-reverse",
  });
  m.append(el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  d.append(m);
  return d;
}

// Ticks per busy period, relative to its start; a long idle gap is a hatched break
// labelled with its length.
function axis(scale, labelW, height) {
  const g = el("g", { class: "axis" });
  for (const c of scale.clusters) {
    const span = Number(c.end - c.start);
    g.append(el("line", { x1: c.x0, y1: AXIS - 4, x2: c.x1, y2: AXIS - 4 }));
    const step = tickStep(span || 1, Math.max(1, Math.floor((c.x1 - c.x0) / 110)));
    for (let t = 0; t <= span + 1; t += step) {
      const tx = scale.x(c.start + BigInt(Math.round(t)));
      g.append(el("line", { x1: tx, y1: AXIS - 8, x2: tx, y2: AXIS - 4 }));
      g.append(el("text", { x: tx, y: AXIS - 11, "text-anchor": "middle" }, t === 0 ? "0" : `+${formatDuration(t)}`));
      if (span === 0) break;
    }
  }
  for (const b of scale.breaks) {
    const mid = (b.x0 + b.x1) / 2;
    g.append(el("rect", { x: b.x0 + 4, y: AXIS - 4, width: b.x1 - b.x0 - 8, height: height - AXIS, class: "axis-break" }));
    g.append(el("text", { x: mid, y: AXIS - 11, "text-anchor": "middle", class: "break-label" }, `⋯ ${formatDuration(b.duration)}`));
  }
  g.append(el("text", { x: 6, y: AXIS - 11, class: "axis-title" }, "service · span"));
  return g;
}

// Arrows from producer to consumer; a link whose span is not on this side is a short stub
// into the span that holds it.
function arrows(model, placed, labelW) {
  const g = el("g", { class: "links" });
  for (const d of drawnLinks(model)) {
    const holder = placed.get(d.holder.key);
    if (!holder) continue;
    const rule = d.link.attrs.find((a) => a.key === "relink.rule")?.value;
    const title = `link ${d.holder.name} → ${d.link.traceId.slice(0, 8)}…/${d.link.spanId}${rule ? ` (${rule})` : ""}`;
    if (!d.target || !placed.get(d.target.key)) {
      const x = Math.max(labelW + PAD, holder.x0 - 26);
      const p = el("path", { d: `M${x},${holder.y - 8} L${holder.x0 - 1},${holder.y}`, class: "link-stub", "marker-end": "url(#arrowhead)" });
      p.append(el("title", {}, `${title}: linked span not in this view`));
      g.append(p);
      continue;
    }
    const from = placed.get(d.from.key);
    const to = placed.get(d.to.key);
    const sx = from.x1;
    const ex = to.x0 - 1;
    const bend = Math.max(30, Math.abs(to.y - from.y) / 2);
    const path = `M${sx},${from.y} C${sx + bend},${from.y} ${ex - bend},${to.y} ${ex},${to.y}`;
    const p = el("path", {
      d: path,
      class: "link-arrow",
      "marker-end": "url(#arrowhead)",
      "data-from": d.from.key,
      "data-to": d.to.key,
    });
    p.append(el("title", {}, title));
    g.append(p);
  }
  return g;
}
