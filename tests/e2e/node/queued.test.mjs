// End-to-end: queued ingestion through the unmodified Node ingest SDK (azure-kusto-ingest:
// IngestClient from a file and a stream, status queues, ManagedStreamingIngestClient's
// fallback) against Calypso's data-management surface on the same port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { Client, KustoConnectionStringBuilder } from "azure-kusto-data";
import {
  DataFormat,
  IngestClient,
  IngestionProperties,
  IngestStatusQueues,
  ManagedStreamingIngestClient,
  ReportLevel,
} from "azure-kusto-ingest";
import { startServer } from "./server.mjs";

const DB = "NetDefaultDB";
let server;
let kcsb;
let dir;

before(async () => {
  server = await startServer();
  kcsb = KustoConnectionStringBuilder.withNoAuthentication
    ? KustoConnectionStringBuilder.withNoAuthentication(server.url)
    : new KustoConnectionStringBuilder(server.url);
  dir = mkdtempSync(join(tmpdir(), "calypso-node-queued-"));
});

after(() => {
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function count(client, table) {
  const res = await client.execute(DB, `${table} | count`);
  return [...res.primaryResults[0].rows()][0].toJSON().Count;
}

async function waitForRows(client, table, expected, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  let n = await count(client, table);
  while (n < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    n = await count(client, table);
  }
  return n;
}

test("IngestClient.ingestFromFile and ingestFromStream land their rows", async () => {
  const client = new Client(server.url);
  await client.executeMgmt(DB, ".create table NQ (a:long, b:string)");
  const ingest = new IngestClient(kcsb, new IngestionProperties({ database: DB, table: "NQ", format: DataFormat.CSV }));
  const path = join(dir, "rows.csv");
  writeFileSync(path, Array.from({ length: 500 }, (_, i) => `${i + 1},r${i + 1}`).join("\n") + "\n");
  // A file's size is known: without flushImmediately it would wait for the 5-minute batch.
  const result = await ingest.ingestFromFile(path, { flushImmediately: true });
  assert.equal(JSON.stringify(result).includes("Queued"), true, JSON.stringify(result));
  // Node uploads streams uncompressed, in blocks.
  await ingest.ingestFromStream(Readable.from([Buffer.from("1000,s\n2000,t\n")]));
  assert.equal(await waitForRows(client, "NQ", 502), 502);
  const res = await client.execute(DB, "NQ | summarize s = sum(a)");
  assert.equal([...res.primaryResults[0].rows()][0].toJSON().s, 125250 + 3000);
});

test("a failure is reported to the failure queue (Node reports failures by default)", async () => {
  const client = new Client(server.url);
  await client.executeMgmt(DB, ".create table NQBad (a:long)");
  const ingest = new IngestClient(kcsb, new IngestionProperties({ database: DB, table: "NQBad", format: DataFormat.CSV }));
  await ingest.ingestFromStream(Readable.from([Buffer.from("1\n")]), {
    ingestionMappingReference: "no-such-mapping",
    reportLevel: ReportLevel.FailuresOnly,
  });
  const queues = new IngestStatusQueues(ingest);
  const deadline = Date.now() + 15000;
  let got = [];
  while (got.length === 0 && Date.now() < deadline) {
    got = await queues.failure.pop(5);
    if (got.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(got.length > 0, "a failure report");
  assert.equal(got[0].Table, "NQBad");
  assert.ok(String(got[0].Details).includes("no-such-mapping"), JSON.stringify(got[0]));
  assert.equal(await count(client, "NQBad"), 0);
});

test("ManagedStreamingIngestClient falls back to queued for a large stream", async () => {
  const client = new Client(server.url);
  await client.executeMgmt(DB, ".create table NQManaged (a:long, b:string)");
  await client.executeMgmt(DB, ".alter table NQManaged policy streamingingestion enable");
  const lines = [];
  for (let i = 0; i < 60000; i++) lines.push(`${i},${randomBytes(64).toString("hex")}`);
  const body = Buffer.from(lines.join("\n") + "\n");
  assert.ok(body.length > 7 * 1024 * 1024);
  const managed = new ManagedStreamingIngestClient(
    kcsb,
    kcsb,
    new IngestionProperties({ database: DB, table: "NQManaged", format: DataFormat.CSV }),
  );
  await managed.ingestFromStream(Readable.from([body.subarray(0, 3e6), body.subarray(3e6)]));
  assert.equal(await waitForRows(client, "NQManaged", 60000, 60), 60000);
});
