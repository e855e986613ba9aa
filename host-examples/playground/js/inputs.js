// The input cards: each holds one payload (pasted text, or a dropped or opened file, text
// or binary), a kind (auto, OTLP traces, AWS event) and the place where its own error is
// shown. The list is processed top to bottom.

const encoder = new TextEncoder();

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

// Which entry point a payload goes to when the kind is `auto`: protobuf and JSON naming
// `resourceSpans` are OTLP traces; JSON with `events` is a Step Functions execution history;
// lines (or an array of them, or CloudWatch Logs subscription data) with `execution_arn`
// are Step Functions execution logs; other JSON is an AWS event. Unparseable text goes
// where its words point, so the decoder that reports the error is the one the user meant.
export function detectKind(bytes, text) {
  if (text === null) return "traces";
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const isLogLine = (v) => isObject(v) && "execution_arn" in v;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    const first = text.trimStart().split("\n", 1)[0];
    try {
      if (isLogLine(JSON.parse(first))) return "sfn-logs";
    } catch {
      // Not even one line of JSON: judged by its words below.
    }
    if (/resource_?spans/i.test(text)) return "traces";
    if (/"execution_arn"/.test(text)) return "sfn-logs";
    return "event";
  }
  if (isObject(value) && ("resourceSpans" in value || "resource_spans" in value)) return "traces";
  if (isObject(value) && Array.isArray(value.events)) return "sfn-history";
  if (isLogLine(value) || (Array.isArray(value) && isLogLine(value[0]))) return "sfn-logs";
  if (isObject(value) && Array.isArray(value.logEvents) && /execution_arn/.test(text)) return "sfn-logs";
  return "event";
}

// Text when the bytes are UTF-8 JSON-looking text, else null (binary protobuf).
function asText(bytes) {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return /^\s*[[{]/.test(text) || text.trim() === "" ? text : null;
  } catch {
    return null;
  }
}

export class InputList {
  constructor(root, onChange) {
    this.root = root;
    this.onChange = onChange;
    this.cards = [];
  }

  clear() {
    this.cards = [];
    this.root.replaceChildren();
  }

  // Adds a card. `payload` is a string or a Uint8Array; `label` names it; `executionArn`
  // is for a Step Functions history that does not name its execution.
  add(label = "", payload = "", kind = "auto", executionArn = "") {
    const card = { label, bytes: null, kind };
    const title = h("span", { class: "card-title" });
    const kindSelect = h(
      "select",
      { class: "kind", "aria-label": "Input kind" },
      h("option", { value: "auto" }, "auto-detect"),
      h("option", { value: "traces" }, "OTLP traces"),
      h("option", { value: "event" }, "AWS event"),
      h("option", { value: "sfn-logs" }, "Step Functions logs"),
      h("option", { value: "sfn-history" }, "Step Functions history"),
    );
    // GetExecutionHistory output does not name its execution; the ARN can be given here.
    const arn = h("input", {
      type: "text",
      class: "arn",
      placeholder: "execution ARN (when the history has no executionArn)",
      "aria-label": "Execution ARN",
      spellcheck: false,
    });
    arn.value = executionArn;
    arn.hidden = true;
    kindSelect.value = kind;
    const file = h("input", { type: "file", accept: ".json,.pb,.bin,.otlp,application/json,application/x-protobuf" });
    const open = h("label", { class: "button small" }, "Open file…", file);
    const remove = h("button", { type: "button", class: "small", title: "Remove this input" }, "Remove");
    const textarea = h("textarea", { class: "payload", spellcheck: false, rows: 8, "aria-label": "Input payload" });
    const status = h("p", { class: "status muted" });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const el = h(
      "div",
      { class: "input-card" },
      h("div", { class: "card-head" }, title, kindSelect, open, remove),
      arn,
      textarea,
      status,
      error,
    );
    Object.assign(card, { el, title, textarea, status, error, kindSelect, arn });

    textarea.addEventListener("input", () => {
      if (card.bytes) {
        card.bytes = null;
        textarea.readOnly = false;
      }
      this.onChange();
    });
    kindSelect.addEventListener("change", () => {
      card.kind = kindSelect.value;
      this.onChange();
    });
    arn.addEventListener("input", () => this.onChange());
    file.addEventListener("change", async () => {
      if (file.files?.[0]) await this.load(card, file.files[0]);
    });
    remove.addEventListener("click", () => {
      this.cards = this.cards.filter((c) => c !== card);
      el.remove();
      this.renumber();
      this.onChange();
    });
    el.addEventListener("dragover", (e) => {
      e.preventDefault();
      el.classList.add("drop");
    });
    el.addEventListener("dragleave", () => el.classList.remove("drop"));
    el.addEventListener("drop", async (e) => {
      e.preventDefault();
      e.stopPropagation();
      el.classList.remove("drop");
      const f = e.dataTransfer?.files?.[0];
      if (f) await this.load(card, f);
    });

    this.cards.push(card);
    this.root.append(el);
    this.set(card, payload, label);
    this.renumber();
    return card;
  }

  // Puts a payload into a card: text is editable, binary is shown as a summary.
  // A file named .pb, .bin or .otlp is binary even when its bytes happen to decode as text.
  set(card, payload, name) {
    const bytes = typeof payload === "string" ? null : payload;
    const binaryName = /\.(pb|bin|otlp)$/i.test(name ?? "");
    const text = bytes ? (binaryName ? null : asText(bytes)) : payload;
    card.label = name ?? card.label;
    if (text === null) {
      card.bytes = bytes;
      card.textarea.value = `(binary OTLP protobuf${card.label ? `: ${card.label}` : ""}, ${bytes.length} bytes; type here to replace it)`;
      card.textarea.readOnly = false;
    } else {
      card.bytes = null;
      card.textarea.value = text;
    }
    this.renumber();
  }

  // A new file is a new payload: its kind is detected again.
  async load(card, file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    card.kind = "auto";
    card.kindSelect.value = "auto";
    this.set(card, bytes, file.name);
    this.onChange();
  }

  renumber() {
    this.cards.forEach((c, i) => {
      c.title.textContent = `Input ${i + 1}${c.label ? ` · ${c.label}` : ""}`;
    });
  }

  // What each card asks to be processed: {card, bytes, kind, executionArn}. The ARN field
  // shows only where it applies.
  payloads() {
    return this.cards.map((card) => {
      const bytes = card.bytes ?? encoder.encode(card.textarea.value);
      const text = card.bytes ? null : card.textarea.value;
      const kind = card.kind === "auto" ? detectKind(bytes, text) : card.kind;
      card.arn.hidden = kind !== "sfn-history";
      return { card, bytes, kind, executionArn: card.arn.value.trim() || undefined };
    });
  }

  showResult(card, { error, status }) {
    card.error.hidden = !error;
    card.error.textContent = error ?? "";
    card.el.classList.toggle("has-error", !!error);
    card.status.textContent = status ?? "";
  }
}
