// Cross-site safety in a real browser (Debian's headless Chromium, driven by playwright-core).
//
// One page server on 127.0.0.1:P serves the same pages under two origins:
//   http://localhost:P  - allowed (Calypso runs with --cors-origin http://localhost:P);
//   http://127.0.0.1:P  - another site: its pages try every request a browser sends without
//                         a CORS preflight (text/plain fetch in no-cors mode, a form POST,
//                         sendBeacon) plus a preflighted JSON fetch. Nothing may execute.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const DB = "NetDefaultDB";
let proc;
let calypso;
let dataDir;
let pages;
let pagePort;
let browser;

const ATTACK = (target) => `<!doctype html><html><body>
<iframe name="sink" style="display:none"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink"
      action="${target}/v1/rest/mgmt"><input name='{"db":"${DB}","csl":".drop table T","x":"' value='"}'></form>
<form id="g" method="POST" enctype="text/plain" target="sink"
      action="${target}/v1/rest/ingest/${DB}/T?streamFormat=Csv"><input name="1" value="2"></form>
<script>
window.outcome = {};
(async () => {
  const drop = JSON.stringify({ db: "${DB}", csl: ".drop table T" });
  const ingest = "7\\n8\\n";
  try {
    await fetch("${target}/v1/rest/mgmt", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: drop });
    outcome.noCors = "sent";
  } catch (e) { outcome.noCors = "blocked"; }
  try {
    await fetch("${target}/v1/rest/ingest/${DB}/T?streamFormat=Csv", { method: "POST", mode: "no-cors", body: ingest });
    outcome.noCorsIngest = "sent";
  } catch (e) { outcome.noCorsIngest = "blocked"; }
  outcome.beacon = navigator.sendBeacon("${target}/v1/rest/mgmt", drop);
  try {
    const r = await fetch("${target}/v1/rest/mgmt", { method: "POST", headers: { "Content-Type": "application/json" }, body: drop });
    outcome.cors = "read " + r.status;
  } catch (e) { outcome.cors = "blocked"; }
  document.getElementById("f").submit();
  await new Promise((r) => setTimeout(r, 500));
  document.getElementById("g").submit();
  await new Promise((r) => setTimeout(r, 1000));
  window.done = true;
})();
</script></body></html>`;

const FRIEND = (target) => `<!doctype html><html><body><script>
(async () => {
  try {
    const r = await fetch("${target}/v2/rest/query", {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", "x-ms-app": "browser-test", "x-ms-client-request-id": "browser;1" },
      body: JSON.stringify({ db: "${DB}", csl: "T | count" }),
    });
    const frames = await r.json();
    const primary = frames.find((f) => f.TableKind === "PrimaryResult");
    window.result = { status: r.status, count: primary.Rows[0][0], requestId: r.headers.get("x-ms-client-request-id") };
  } catch (e) { window.result = { error: String(e) }; }
  window.done = true;
})();
</script></body></html>`;

async function mgmt(csl) {
  const r = await fetch(`${calypso}/v1/rest/mgmt`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ db: DB, csl }) });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.Tables[0].Rows;
}

before(async () => {
  pages = createServer((req, res) => {
    res.setHeader("Content-Type", "text/html");
    res.end(req.url.startsWith("/friend") ? FRIEND(calypso) : ATTACK(calypso));
  });
  await new Promise((r) => pages.listen(0, "127.0.0.1", r));
  pagePort = pages.address().port;

  const bin = process.env.CALYPSO_BIN;
  assert.ok(bin, "CALYPSO_BIN must name the calypso binary");
  dataDir = mkdtempSync(join(tmpdir(), "calypso-browser-"));
  proc = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--cors-origin", `http://localhost:${pagePort}`], { stdio: ["ignore", "pipe", "inherit"] });
  calypso = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (chunk) => {
      buf += chunk.toString();
      const m = buf.match(/Calypso listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  await mgmt(".create table T (a:long)");
  await mgmt(".alter table T policy streamingingestion enable");
  await mgmt(".ingest inline into table T <| 1");

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  proc?.kill("SIGTERM");
  pages?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("a page of another origin executes nothing", async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${pagePort}/attack`);
  await page.waitForFunction(() => window.done === true, null, { timeout: 20000 });
  const outcome = await page.evaluate(() => window.outcome);
  // The preflighted request never reached the server; the simple ones were refused there.
  assert.equal(outcome.cors, "blocked", JSON.stringify(outcome));
  const tables = (await mgmt(".show tables")).map((r) => r[0]);
  assert.deepEqual(tables, ["T"]);
  const count = await mgmt(".show table T details");
  assert.equal(count[0][0], "T");
  const rows = await (await fetch(`${calypso}/v2/rest/query`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ db: DB, csl: "T | count" }) })).json();
  assert.equal(rows.find((f) => f.TableKind === "PrimaryResult").Rows[0][0], 1, "no row was ingested");
  await page.close();
});

test("the allowed origin works with preflight, credentials and custom headers", async () => {
  const page = await browser.newPage();
  await page.goto(`http://localhost:${pagePort}/friend`);
  await page.waitForFunction(() => window.done === true, null, { timeout: 20000 });
  const result = await page.evaluate(() => window.result);
  assert.deepEqual(result, { status: 200, count: 1, requestId: "browser;1" });
  await page.close();
});
