// The playground in a real browser: Debian's Chromium driven by playwright-core, the built
// page (dist/web) served from 127.0.0.1 on an ephemeral port by the relay
// (`relink serve --playground dist/web`), or by tools/serve.mjs when the relay is not built. For every bundled sample the
// after-waterfall must show the expected traces and links, and for samples taken from a
// golden case the relinked download must equal that case's expected outputs. Malformed
// inputs and configs must give their message where they occur. Screenshots are kept in
// target/playground-screenshots/.
//
// Run with `host-examples/playground/test.sh` (builds first) or, after build.sh,
// `node --test host-examples/playground/test/`.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../tools/serve.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const PLAYGROUND = resolve(HERE, "..");
const ROOT = resolve(PLAYGROUND, "../..");
const WEB = resolve(process.env.RELINK_WEB_DIR ?? join(ROOT, "dist/web"));
const SHOTS = join(ROOT, "target/playground-screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const RELAY = process.env.RELINK_RELAY ?? join(ROOT, "dist/relink");
const MANIFEST = join(PLAYGROUND, "samples/samples.json");
const samples = JSON.parse(readFileSync(MANIFEST, "utf8"));

let server;
let url;
let context;
let page;
let profile;
let canonical;
const problems = [];
// Every request the page made, as [method, url]: "nothing leaves the browser".
const requests = [];

before(async () => {
  assert.ok(existsSync(join(WEB, "pkg/relink_bg.wasm")), `${WEB} has no build: run host-examples/playground/build.sh`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  mkdirSync(SHOTS, { recursive: true });
  // The same build, in node, to canonicalize the golden files the page's output is compared to.
  const pkg = await import(join(WEB, "pkg/relink.js"));
  pkg.initSync({ module: readFileSync(join(WEB, "pkg/relink_bg.wasm")) });
  canonical = (bytes) => JSON.parse(pkg.otlpToJson(bytes));
  ({ server, url } = await (existsSync(RELAY) ? serveWithRelay(WEB) : serve(WEB)));
  profile = mkdtempSync(join(tmpdir(), "relink-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    // Without the networking switches Chromium's background services dial out and this
    // machine's closed network refuses them.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context.setDefaultTimeout(20_000);
  page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));
  page.on("request", (r) => requests.push([r.method(), r.url()]));
  await page.goto(url);
  // The first load compiles relink's wasm and relinks the first sample: on a busy 2-core
  // machine that once took longer than the 20 s an action gets.
  await page.waitForSelector('#after[data-ready="true"]', { timeout: 60_000 });
});

// The page as `relink serve --playground` serves it, when the relay is built (./build.sh
// builds dist/relink); otherwise, or with RELINK_RELAY=none, from tools/serve.mjs.
async function serveWithRelay(dir) {
  const relay = spawn(RELAY, ["serve", "--listen", "127.0.0.1:0", "--log-interval", "0", "--playground", dir], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let said = "";
  const address = await new Promise((ok, fail) => {
    relay.stderr.on("data", (chunk) => {
      said += chunk;
      const m = said.match(/playground \(.*\) at (http:\/\/[^\s]+)/);
      if (m) ok(m[1]);
    });
    relay.on("exit", (code) => fail(new Error(`relink serve exited with ${code}: ${said}`)));
  });
  return { server: { close: (done) => (relay.once("exit", () => done()), relay.kill("SIGTERM")) }, url: address };
}

after(async () => {
  await context?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok()));
  if (profile) rmSync(profile, { recursive: true, force: true });
});

// Waits for the run after `previous` (the page reruns on every change, debounced).
async function nextRun(previous) {
  await page.waitForFunction(
    (n) => Number(document.getElementById("after").dataset.run ?? 0) > n && document.getElementById("after").dataset.ready === "true",
    previous,
  );
}

const runCount = () => page.$eval("#after", (e) => Number(e.dataset.run ?? 0));
const counts = (id) => page.$eval(id, (e) => ({ ...e.dataset }));

async function pick(id) {
  const n = await runCount();
  await page.selectOption("#sample", id);
  await nextRun(n);
  await page.waitForFunction((s) => document.body.dataset.sample === s, id);
}

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function typeInto(locator, text) {
  const n = await runCount();
  await locator.fill(text);
  await nextRun(n);
}

describe("bundled samples", () => {
  for (const sample of samples) {
    test(`${sample.id}: ${sample.title}`, async () => {
      await pick(sample.id);
      const b = await counts("#before");
      const a = await counts("#after");
      assert.equal(Number(b.traces), sample.expect.before.traces, "traces before");
      assert.equal(Number(a.traces), sample.expect.after.traces, "traces after");
      assert.equal(Number(a.arrows), sample.expect.after.arrows, "link arrows after");
      assert.equal(Number(a.links), sample.expect.after.links, "links after");
      assert.equal(await page.locator("#after path.link-arrow").count(), sample.expect.after.arrows);
      assert.ok((await page.locator("#after .span-row.relinked").count()) >= 1, "a relinked span is highlighted");
      assert.equal(await page.locator(".input-card .error:not([hidden])").count(), 0, "no input error");
      // The first relinked span is selected and its reasons shown.
      await page.waitForSelector("#detail .why");
      assert.ok((await page.locator("#detail .why tr.relink, #detail .link tr.relink").count()) >= 1, "relink.* reasons shown");
      // Spans built from Step Functions records carry the golden cases' names and ids.
      if (sample.stepfnGolden) {
        const output = JSON.parse(await page.evaluate(async () => (await fetch(document.getElementById("download").href)).text()));
        const got = output.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => [s.name, s.traceId, s.spanId, s.parentSpanId ?? null])));
        const want = sample.stepfnGolden.flatMap((dir) =>
          JSON.parse(readFileSync(resolve(dirname(MANIFEST), dir, "expected.json"), "utf8")).map((s) => [s.name, s.trace_id, s.span_id, s.parent_span_id]),
        );
        assert.deepEqual(got.sort(), want.sort());
      }
      if (sample.golden) {
        const download = await page.evaluate(async () => (await fetch(document.getElementById("download").href)).text());
        const expected = { resourceSpans: [] };
        sample.inputs.forEach((_, i) => {
          const file = resolve(dirname(MANIFEST), sample.golden, `expected-${i + 1}.json`);
          expected.resourceSpans.push(...(canonical(readFileSync(file)).resourceSpans ?? []));
        });
        assert.deepEqual(JSON.parse(download), expected, "the download equals the golden case's expected outputs");
      }
      await shot(sample.id);
    });
  }
});

describe("errors where they occur", () => {
  test("malformed OTLP/JSON: the message is shown on that input, the rest still runs", async () => {
    await pick("s3-lambda-links");
    const card = page.locator(".input-card").first();
    await typeInto(card.locator("textarea"), '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "not-hex"}]}]}]}');
    assert.equal(
      await card.locator(".error").textContent(),
      'otlp json: resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits, got "not-hex"',
    );
    assert.equal(await card.locator(".status").textContent(), "OTLP: passed through unchanged");
    assert.equal(await page.locator(".input-card .error:not([hidden])").count(), 1);
    assert.equal(Number((await counts("#after")).traces), 1, "the other input is still drawn");
    await typeInto(card.locator("textarea"), '{"resourceSpans": [');
    assert.equal(await card.locator(".error").textContent(), "otlp json: EOF while parsing a list at line 1 column 19");
    await shot("error-malformed-otlp");
  });

  test("malformed AWS event: the decoder names the missing field", async () => {
    await pick("s3-event");
    const card = page.locator(".input-card").first();
    await typeInto(card.locator("textarea"), '{"Records": [{"eventSource": "aws:s3"}]}');
    assert.equal(await card.locator(".error").textContent(), "s3 event: missing field `Records.0.s3.object.key`");
    assert.equal(Number((await counts("#after")).spans), 0);
    assert.equal(await page.locator("#after .empty").count(), 1, "an empty side says so instead of going blank");
  });

  test("invalid config: every problem listed inline with its line, nothing processed", async () => {
    await pick("s3-lambda");
    await typeInto(page.locator("#config"), '{\n  "adoption": { "enabled": true },\n  "direct_links": { "enabled": false },\n  "index": { "ttl_seconds": 0 }\n}\n');
    const listed = await page.locator("#config-problems li").allTextContents();
    assert.deepEqual(listed, [
      "line 2 config: `adoption.enabled` requires `direct_links.enabled`",
      "line 4 config: `index.ttl_seconds` is 0, expected 1 to 86400",
    ]);
    assert.equal(await page.getAttribute("#config", "aria-invalid"), "true");
    assert.match(await page.textContent("#summary"), /^Fix the configuration/);
    await shot("error-config");
    await typeInto(page.locator("#config"), '{"adoption": {"enabled": tru}}');
    assert.deepEqual(await page.locator("#config-problems li").allTextContents(), [
      "line 1 config: invalid json: expected ident at line 1 column 29",
    ]);
    await typeInto(page.locator("#config"), "{}");
    assert.equal(await page.locator("#config-problems li").count(), 0);
    assert.equal(Number((await counts("#after")).traces), 2, "valid again: defaults link, not adopt");
  });
});

describe("inputs", () => {
  test("an OTLP protobuf file opened from disk is decoded", async () => {
    await pick("s3-event");
    const card = page.locator(".input-card").first();
    const n = await runCount();
    await card.locator('input[type="file"]').setInputFiles(join(ROOT, "tests/otlp/python_sdk.pb"));
    await nextRun(n);
    assert.equal(await card.locator(".status").textContent(), "OTLP protobuf · 4 spans, 0 changed");
    assert.equal(await card.locator(".error").isHidden(), true);
    assert.equal(Number((await counts("#before")).spans), 4);
  });

  test("a raw event pasted into a new input is relinked to the write before it", async () => {
    await pick("s3-lambda-links");
    const n = await runCount();
    await page.click("#add-input");
    const card = page.locator(".input-card").nth(2);
    await card.locator("textarea").fill(readFileSync(join(ROOT, "tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json"), "utf8"));
    await nextRun(n);
    assert.equal(await card.locator(".status").textContent(), "AWS event → spans · 1 span, 1 changed");
    // The inferred span of the notification links to uploader's PutObject, as thumbnailer's does.
    assert.equal(Number((await counts("#after")).arrows), 2);
    // The fixture's eventTime is in 1970: the page says why the axis is so long.
    assert.match(await page.textContent("#summary"), / The time axis skips 54\.2 y where nothing happened/);
    assert.equal(await page.locator("#after .axis-break").count(), 1);
    await shot("raw-event-pasted");
  });

  test("a file dropped beside the cards becomes a new input", async () => {
    await pick("s3-lambda-links");
    const bytes = [...readFileSync(join(ROOT, "tests/otlp/python_sdk.pb"))];
    const dt = await page.evaluateHandle((b) => {
      const d = new DataTransfer();
      d.items.add(new File([new Uint8Array(b)], "python_sdk.pb", { type: "application/x-protobuf" }));
      return d;
    }, bytes);
    const n = await runCount();
    await page.dispatchEvent(".inputs-panel .panel-head", "drop", { dataTransfer: dt });
    await nextRun(n);
    const card = page.locator(".input-card").nth(2);
    assert.equal(await card.locator(".card-title").textContent(), "Input 3 · python_sdk.pb");
    assert.equal(await card.locator(".status").textContent(), "OTLP protobuf · 4 spans, 0 changed");
    assert.equal(Number((await counts("#before")).spans), 8);
  });

  test("the page logged no error", () => {
    assert.deepEqual(problems, []);
  });

  test("nothing leaves the browser: only GETs of the page's own files", () => {
    const origin = new URL(url).origin;
    assert.ok(requests.length > 0, "the listener saw the page load");
    const elsewhere = requests.filter(([method, u]) => method !== "GET" || !(u.startsWith(`${origin}/`) || u.startsWith("data:") || u.startsWith("blob:")));
    assert.deepEqual(elsewhere, []);
  });
});
