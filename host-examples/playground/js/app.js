// The playground page: loads relink's WebAssembly build, the bundled samples, and runs
// every input through one processor on each change, then draws before and after.
// Any failure ends up as a message where it happened (an input card, the config editor)
// or in the banner: the page is never left blank.

import init, { Relink, checkConfig, version } from "../pkg/relink.js";
import { ConfigEditor } from "./config-editor.js";
import { renderDetail } from "./detail.js";
import { InputList } from "./inputs.js";
import { compare, formatDuration, isPointerLink, mergeRequests, parseRequests, summary, timeScale } from "./model.js";
import { renderWaterfall } from "./waterfall.js";

const $ = (id) => document.getElementById(id);
const PALETTE = ["#2563eb", "#db2777", "#059669", "#a16207", "#7c3aed", "#0891b2", "#64748b", "#4d7c0f", "#9333ea", "#0f766e"];

const state = {
  samples: [],
  before: null,
  after: null,
  changes: null,
  selected: null,
  selectedSide: "after",
  colors: new Map(),
  downloadUrl: null,
  runs: 0,
};

function banner(message) {
  const b = $("banner");
  b.hidden = !message;
  b.textContent = message ?? "";
}

window.addEventListener("error", (e) => banner(`Unexpected error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => banner(`Unexpected error: ${e.reason?.message ?? e.reason}`));

function colorOf(service) {
  if (!state.colors.has(service)) state.colors.set(service, PALETTE[state.colors.size % PALETTE.length]);
  return state.colors.get(service);
}

let inputs;
let config;
let runTimer = null;

function scheduleRun() {
  clearTimeout(runTimer);
  runTimer = setTimeout(run, 250);
}

// One run: a fresh processor (so results never depend on earlier runs), every input in
// order, then both waterfalls, the counters and the download.
function run() {
  clearTimeout(runTimer);
  const results = $("after");
  results.dataset.ready = "false";
  try {
    banner(null);
    const payloads = inputs.payloads();
    if (!config.check()) {
      for (const p of payloads) inputs.showResult(p.card, { status: "" });
      show([], [], null, "Fix the configuration to relink: its problems are listed under the editor.");
      return;
    }
    let relink;
    try {
      relink = new Relink(config.value);
    } catch (e) {
      show([], [], null, `The configuration was rejected: ${e.message ?? e}`);
      return;
    }
    const befores = [];
    const afters = [];
    const now = BigInt(Date.now()) * 1000000n;
    try {
      for (const { card, bytes, kind, executionArn } of payloads) {
        if (bytes.length === 0) {
          inputs.showResult(card, { status: "empty: skipped" });
          continue;
        }
        const r = call(relink, kind, bytes, executionArn, now);
        try {
          const counters = JSON.parse(r.counters);
          const what = WHAT[kind] ?? kind;
          if (r.error) {
            inputs.showResult(card, { error: r.error, status: kind === "traces" ? "OTLP: passed through unchanged" : `${what}: not processed` });
          } else {
            // Spans relink made (from an event or an execution record) did not exist
            // before: only OTLP inputs are on the before side.
            if (kind === "traces") befores.push(r.inputJson);
            afters.push(r.outputJson);
            const label = kind === "traces" ? `OTLP ${r.encoding === "protobuf" ? "protobuf" : "JSON"}` : `${what} → spans`;
            inputs.showResult(card, {
              status: `${label} · ${plural(counters.spans_in, "span")}, ${counters.spans_changed} changed`,
            });
          }
        } finally {
          r.free();
        }
      }
      show(befores, afters, JSON.parse(relink.counters()));
    } finally {
      relink.free();
    }
  } catch (e) {
    banner(`Could not relink: ${e.message ?? e}`);
    show([], [], null, "Nothing to show: see the message above.");
  }
}

const WHAT = { event: "AWS event", "sfn-logs": "Step Functions logs", "sfn-history": "Step Functions history" };

// The binding call for an input kind.
function call(relink, kind, bytes, executionArn, now) {
  switch (kind) {
    case "event":
      return relink.processEvent(bytes, now);
    case "sfn-logs":
      return relink.processStepFunctionsLogs(bytes, now);
    case "sfn-history":
      return relink.processStepFunctionsHistory(bytes, executionArn, now);
    default:
      return relink.processTraces(bytes, now);
  }
}

function show(befores, afters, counters, message) {
  state.before = parseRequests(befores);
  state.after = parseRequests(afters);
  state.changes = compare(state.before, state.after);
  for (const m of [state.before, state.after]) for (const s of m.spans) colorOf(s.service);
  const keep = state.selected && (state.selectedSide === "after" ? state.after : state.before).spans.some((s) => s.key === state.selected);
  if (!keep) {
    state.selected = firstToExplain(state.after, state.changes)?.key ?? null;
    state.selectedSide = "after";
  }
  draw(message);
  renderCounters(counters);
  setDownload(afters);
  const b = summary(state.before);
  const a = summary(state.after);
  const breaks = timeScale([state.before, state.after], 0, 1000).breaks;
  const wide = breaks.length
    ? ` The time axis skips ${breaks.map((b) => formatDuration(b.duration)).join(", ")} where nothing happened (⋯): some spans are far apart in time (an event's own timestamp, for one).`
    : "";
  $("summary").textContent = message ??
    (b.spans === 0 && a.spans === 0
      ? "No spans yet: add an input or pick a sample."
      : `Before: ${plural(b.traces, "trace")}, ${plural(b.spans, "span")}. After: ${plural(a.traces, "trace")}, ${plural(a.spans, "span")}, ${plural(a.links, "link")}${a.pointers ? ` and ${plural(a.pointers, "span pointer")}` : ""}.${wide}`);
  state.runs += 1;
  $("after").dataset.run = String(state.runs);
  $("after").dataset.ready = "true";
}

// The span that best shows what relink did: an adopted root, else a span that got a link
// to another span, else any changed span.
function firstToExplain(model, changes) {
  const c = (s) => changes.get(s.key);
  return (
    model.spans.find((s) => c(s)?.traceChanged && c(s)?.parentChanged) ??
    model.spans.find((s) => c(s)?.linksAdded && s.links.some((l) => !isPointerLink(l))) ??
    model.spans.find((s) => c(s)?.relinked)
  );
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function draw(message) {
  const timeModels = [state.before, state.after];
  const select = (side) => (key) => {
    state.selected = key;
    state.selectedSide = side;
    draw();
  };
  const empty = message ?? "No spans.";
  renderWaterfall($("before"), state.before, { timeModels, changes: null, colorOf, selected: state.selectedSide === "before" ? state.selected : null, onSelect: select("before"), empty });
  renderWaterfall($("after"), state.after, { timeModels, changes: state.changes, colorOf, selected: state.selectedSide === "after" ? state.selected : null, onSelect: select("after"), empty });
  const side = state.selectedSide === "after" ? state.after : state.before;
  renderDetail($("detail"), side, state.selected, state.selectedSide === "after" ? state.changes : null, select(state.selectedSide));
}

function renderCounters(counters) {
  const root = $("counters");
  root.replaceChildren();
  if (!counters) {
    root.textContent = "—";
    return;
  }
  const dl = document.createElement("dl");
  const add = (name, value, id) => {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dd.dataset.counter = id;
    dl.append(dt, dd);
  };
  add("requests", counters.requests, "requests");
  add("spans in / out", `${counters.spans_in} / ${counters.spans_out}`, "spans");
  add("spans changed", counters.spans_changed, "spans_changed");
  const links = Object.entries(counters.links ?? {}).filter(([, v]) => v > 0);
  add("links added", links.length ? links.map(([k, v]) => `${k.replace("_", " ")} ${v}`).join(", ") : "0", "links");
  add("traces adopted", counters.traces_adopted, "traces_adopted");
  const errors = Object.entries(counters.errors ?? {}).filter(([, v]) => v > 0);
  add("errors", errors.length ? errors.map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ") : "none", "errors");
  add("index entries", counters.index?.entries ?? 0, "index_entries");
  root.append(dl);
}

function setDownload(afters) {
  const a = $("download");
  if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
  state.downloadUrl = null;
  if (afters.length === 0) {
    a.removeAttribute("href");
    a.classList.add("disabled");
    a.setAttribute("aria-disabled", "true");
    return;
  }
  state.downloadUrl = URL.createObjectURL(new Blob([mergeRequests(afters)], { type: "application/json" }));
  a.href = state.downloadUrl;
  a.classList.remove("disabled");
  a.setAttribute("aria-disabled", "false");
}

async function fetchOk(url, as) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return as === "bytes" ? new Uint8Array(await r.arrayBuffer()) : r.text();
}

async function loadSample(id) {
  const sample = state.samples.find((s) => s.id === id);
  if (!sample) return;
  try {
    const files = await Promise.all(sample.inputs.map((i) => fetchOk(`samples/${i.file}`, /\.(pb|bin)$/.test(i.file) ? "bytes" : "text")));
    const configText = sample.config ? await fetchOk(`samples/${sample.config}`) : "{}\n";
    inputs.clear();
    sample.inputs.forEach((input, i) => inputs.add(input.label, files[i], input.kind ?? "auto", input.executionArn ?? ""));
    config.value = configText;
    $("sample-description").textContent = sample.description ?? "";
    $("sample").value = id;
    document.body.dataset.sample = id;
    history.replaceState(null, "", `#sample=${encodeURIComponent(id)}`);
    state.selected = null;
    run();
  } catch (e) {
    banner(`Could not load the sample "${sample.title}": ${e.message ?? e}`);
  }
}

async function loadSamples() {
  const select = $("sample");
  try {
    state.samples = JSON.parse(await fetchOk("samples/index.json"));
  } catch (e) {
    select.replaceChildren(new Option("(no samples)", ""));
    banner(`Could not load the samples: ${e.message ?? e}`);
    return;
  }
  select.replaceChildren(new Option("Pick a sample…", ""), ...state.samples.map((s) => new Option(s.title, s.id)));
  select.addEventListener("change", () => select.value && loadSample(select.value));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("sample");
  await loadSample(state.samples.some((s) => s.id === wanted) ? wanted : state.samples[0]?.id);
}

async function main() {
  try {
    await init();
  } catch (e) {
    banner(`Could not load relink's WebAssembly module (${e.message ?? e}). Serve this folder over HTTP, e.g. "python3 -m http.server".`);
    $("summary").textContent = "relink is not loaded: nothing can be processed.";
    return;
  }
  $("footer").textContent = `relink ${version()} · WebAssembly, running in this page`;
  inputs = new InputList($("inputs"), scheduleRun);
  config = new ConfigEditor($("config"), $("config-problems"), checkConfig, scheduleRun);
  config.value = "{}\n";
  $("run").addEventListener("click", run);
  $("add-input").addEventListener("click", () => inputs.add());
  // A file dropped beside the cards becomes a new input (a card takes a file dropped on it).
  const panel = document.querySelector(".inputs-panel");
  panel.addEventListener("dragover", (e) => e.preventDefault());
  panel.addEventListener("drop", async (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files?.[0];
    if (file && !e.target.closest?.(".input-card")) await inputs.load(inputs.add(file.name), file);
  });
  let width = window.innerWidth;
  window.addEventListener("resize", () => {
    if (Math.abs(window.innerWidth - width) > 20 && state.before) {
      width = window.innerWidth;
      draw();
    }
  });
  await loadSamples();
  if (inputs.cards.length === 0) {
    inputs.add();
    run();
  }
}

main();
