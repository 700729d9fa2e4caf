// End-to-end: the official Node SDK (azure-kusto-data) against the real Calypso binary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, ClientRequestProperties } from "azure-kusto-data";
import { startServer } from "./server.mjs";

const DB = "NetDefaultDB";
let server;
let url;

before(async () => {
  server = await startServer();
  url = server.url;
});

after(() => {
  server?.stop();
});

test("management commands and queries with parameters", async () => {
  const client = new Client(url);
  await client.executeMgmt(DB, ".create table People (Name:string, Age:long, Born:datetime)");
  await client.executeMgmt(DB, ".ingest inline into table People <| ann,30,1994-05-01\nbob,41,1983-02-03");
  const crp = new ClientRequestProperties();
  crp.setParameter("minAge", 35);
  const res = await client.execute(DB, "declare query_parameters(minAge:long); People | where Age >= minAge | project Name, Age, Born", crp);
  const rows = [...res.primaryResults[0].rows()].map((r) => r.toJSON());
  assert.equal(rows.length, 1);
  assert.equal(rows[0].Name, "bob");
  assert.equal(rows[0].Age, 41);
  assert.equal(new Date(rows[0].Born).toISOString(), "1983-02-03T00:00:00.000Z");
});

test("a syntax error arrives as an error with Kusto's code", async () => {
  const client = new Client(url);
  await assert.rejects(client.execute(DB, "print 1 +"), (e) => {
    // The Node SDK raises the HTTP error; the OneApi body carries Kusto's code and message.
    const body = JSON.stringify(e?.response?.data ?? e?.message ?? "");
    return e?.response?.status === 400 && body.includes("BadRequest_SyntaxError") && body.includes("Syntax error");
  });
});

test("bracketed names, adjacent string literals and the SDK's test setup commands", async () => {
  const client = new Client(url);
  const table = `node_e2e_${Date.now()}`;
  await client.executeMgmt(DB, `.drop table ['${table}'] ifexists`);
  await client.executeMgmt(DB, `.create table ['${table}'] (rownumber:int, rowguid:string)`);
  await client.executeMgmt(DB, ".clear database cache streamingingestion schema");
  await client.executeMgmt(
    DB,
    `.create table ['${table}'] ingestion csv mapping 'CsvMapping' '[' '{"Column":"rownumber","Properties":{"Ordinal":"0"}},' '{"Column":"rowguid","Properties":{"Ordinal":"1"}}' ']'`,
  );
  await client.executeMgmt(DB, `.ingest inline into table ['${table}'] with (format='csv', ingestionMappingReference='CsvMapping') <| 7,abc`);
  const res = await client.execute(DB, `['${table}'] | project rownumber, rowguid`);
  const rows = [...res.primaryResults[0].rows()].map((r) => r.toJSON());
  assert.deepEqual(rows, [{ rownumber: 7, rowguid: "abc" }]);
  await client.executeMgmt(DB, `.drop table ['${table}'] ifexists`);
  const tables = await client.executeMgmt(DB, ".show tables");
  assert.ok(![...tables.primaryResults[0].rows()].some((r) => r.TableName === table));
});
