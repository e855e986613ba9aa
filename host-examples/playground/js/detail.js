// The span detail panel: what the span is, what relink changed and why (its `relink.*`
// attributes and the attributes of the links it added), then everything else it carries.

import { formatDuration, formatTime, isPointerLink, kindName, statusName } from "./model.js";

// The instrumentation scope of the spans relink builds from Step Functions records.
const STEPFN_SCOPE = "relink.stepfn";

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function show(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function table(rows, highlight = () => false) {
  if (rows.length === 0) return h("p", { class: "muted" }, "none");
  const t = h("table", { class: "kv" });
  for (const { key, value } of rows) {
    t.append(h("tr", { class: highlight(key) ? "relink" : "" }, h("th", {}, key), h("td", {}, show(value))));
  }
  return t;
}

// Fills `panel` with the span `key` of `model` (the after side when `changes` is given).
// `jump(key)` selects another span (a linked one).
export function renderDetail(panel, model, key, changes, jump) {
  panel.replaceChildren();
  const s = model.spans.find((x) => x.key === key);
  if (!s) {
    panel.append(h("p", { class: "muted" }, "Select a span in either waterfall to see its attributes and why relink changed it."));
    return;
  }
  const change = changes?.get(s.key);
  panel.append(h("h3", {}, s.name || "(unnamed span)"));
  panel.append(
    table([
      { key: "service", value: s.service },
      { key: "kind", value: kindName(s.kind) },
      { key: "trace id", value: s.traceId },
      { key: "span id", value: s.spanId },
      { key: "parent span id", value: s.parentSpanId || "(root)" },
      { key: "start", value: formatTime(s.start) },
      { key: "duration", value: formatDuration(s.end > s.start ? s.end - s.start : 0n) },
      { key: "status", value: statusName(s.status.code) + (s.status.message ? `: ${s.status.message}` : "") },
      { key: "scope", value: s.scope },
    ]),
  );

  if (change) {
    const why = h("section", { class: "why" }, h("h4", {}, "What relink did"));
    const items = h("ul");
    if (change.added) {
      items.append(
        h("li", {}, s.scope === STEPFN_SCOPE ? "Built this span from the Step Functions execution record." : "Inferred this span from the trigger event."),
      );
    }
    if (change.traceChanged) {
      items.append(h("li", {}, `Adopted it into trace ${s.traceId} (was ${change.before.traceId}).`));
    }
    if (change.parentChanged) {
      items.append(
        h("li", {}, `Parented it under span ${s.parentSpanId || "(none)"} (was ${change.before.parentSpanId || "a root"}).`),
      );
    }
    if (change.linksAdded > 0) items.append(h("li", {}, `Added ${change.linksAdded} link${change.linksAdded === 1 ? "" : "s"}.`));
    if (items.childElementCount === 0) items.append(h("li", {}, change.relinked ? "Added relink attributes." : "Nothing: this span is unchanged."));
    why.append(items);
    const reasons = s.attrs.filter((a) => a.key.startsWith("relink."));
    if (reasons.length) why.append(table(reasons, () => true));
    panel.append(why);
  }

  if (s.links.length) {
    panel.append(h("h4", {}, `Links (${s.links.length})`));
    for (const link of s.links) {
      const box = h("div", { class: "link" });
      if (isPointerLink(link)) {
        box.append(h("p", {}, "Span pointer (Datadog-compatible, zero ids)"));
      } else {
        const target = model.spans.find((x) => x.traceId === link.traceId && x.spanId === link.spanId);
        const label = `${link.traceId.slice(0, 8)}…/${link.spanId}`;
        box.append(
          h(
            "p",
            {},
            "→ ",
            target
              ? h("a", { href: "#", onclick: (e) => (e.preventDefault(), jump(target.key)) }, `${target.service} · ${target.name}`)
              : h("span", {}, `${label} (not in this view)`),
          ),
        );
      }
      box.append(table(link.attrs, (k) => k.startsWith("relink.") || k.startsWith("ptr.")));
      panel.append(box);
    }
  }

  const others = s.attrs.filter((a) => !a.key.startsWith("relink."));
  panel.append(h("h4", {}, "Attributes"));
  panel.append(table(others));
  panel.append(h("h4", {}, "Resource"));
  panel.append(table(s.resource));
  if (s.events.length) {
    panel.append(h("h4", {}, `Events (${s.events.length})`));
    for (const e of s.events) {
      panel.append(h("p", {}, `${formatTime(e.time)} ${e.name}`));
      if (e.attrs.length) panel.append(table(e.attrs));
    }
  }
}
