#!/usr/bin/env node
// Calypso test oracle: asks Microsoft's Kusto.Language (npm @kusto/language-service-next,
// the C# parser/binder compiled to JavaScript) what it thinks of a KQL text.
//
//   node tools/kql-oracle/oracle.js [--schema FILE] < requests.jsonl > answers.jsonl
//
// stdin : one JSON object per line  {"id": <any>, "query": "<kql>", "mode": "syntax"|"semantic"}
//         ("mode" defaults to "semantic"; blank lines are skipped)
// stdout: one JSON object per input line, in the same order:
//         {"id", "ok", "kind", "command", "columns", "diagnostics"}  (see README.md)
// --schema FILE : JSON {"database": "db",
//                       "tables": {"T": "(a:long, b:string)"},
//                       "functions": {"F": {"params": "(x:long)", "body": "{ T | take x }"}}}
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');
const readline = require('readline');

// ---------------------------------------------------------------------------------------------
// Loading the library: the package ships Bridge.NET output meant for a browser <script> tag, so
// the two bundles are evaluated in this global context; the API then lives on globalThis.Kusto.
function loadKustoLanguage() {
  const pkgJson = require.resolve('@kusto/language-service-next/package.json');
  const dir = path.dirname(pkgJson);
  for (const file of ['bridge.min.js', 'Kusto.Language.Bridge.min.js']) {
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    vm.runInThisContext(source, { filename: file });
  }
  return globalThis.Kusto.Language;
}

// Bridge.NET collections (IReadOnlyList etc.) -> JS arrays.
function toArray(list) {
  if (list == null) return [];
  if (Array.isArray(list)) return list;
  return globalThis.Bridge.toArray(list);
}

// ---------------------------------------------------------------------------------------------
// Globals: the default engine state, optionally extended with a database from --schema.
function makeGlobals(K, schemaPath) {
  const base = K.GlobalState.Default;
  if (!schemaPath) return base;
  const spec = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
  const members = [];
  for (const [name, columns] of Object.entries(spec.tables || {})) {
    // TableSymbol(name, "(col:type, ...)", description)
    members.push(new K.Symbols.TableSymbol.$ctor7(name, columns, null));
  }
  for (const [name, fn] of Object.entries(spec.functions || {})) {
    // FunctionSymbol(name, "(params)", "{ body }", description)
    members.push(new K.Symbols.FunctionSymbol.$ctor16(
      name, fn.params || '()', fn.body || '{ print 1 }', fn.description || null));
  }
  const db = new K.Symbols.DatabaseSymbol.$ctor1(spec.database || 'db', members, false);
  return base.WithDatabase(db);
}

// ---------------------------------------------------------------------------------------------
// Offsets: the library counts UTF-16 code units. We report those (start/length) and the UTF-8
// byte equivalents (byte_start/byte_length), which is what a Rust lexer works with.
function utf8Length(s) {
  return Buffer.byteLength(s, 'utf8');
}

function typeName(t) {
  if (!t) return null;
  const n = t.Name;
  return n == null ? String(t.Kind) : n;
}

// Tabular result -> [{name, type}], anything else -> null.
function columnsOf(resultType) {
  if (!resultType || resultType.Columns == null) return null;
  return toArray(resultType.Columns).map(c => ({ name: c.Name, type: typeName(c.Type) }));
}

// The official kind of the management command a text parses as ("ShowDatabaseSchemaAsJson",
// "DropTable"): the CommandKind of the CustomCommand node of the syntax tree; null for queries
// and for command texts that match no known command.
function commandKind(code) {
  const stack = [code.Syntax];
  while (stack.length) {
    const n = stack.pop();
    if (!n) continue;
    if (n.$$name && n.$$name.includes('CustomCommand')) return n.CommandKind || null;
    for (let i = 0; i < n.ChildCount; i++) stack.push(n.GetChild(i));
  }
  return null;
}

function analyze(K, globals, id, query, mode) {
  const semantic = mode !== 'syntax';
  const code = semantic ? K.KustoCode.ParseAndAnalyze(query, globals)
                        : K.KustoCode.Parse(query, globals);
  const diags = toArray(semantic ? code.GetDiagnostics() : code.GetSyntaxDiagnostics());
  const diagnostics = diags.map(d => {
    const start = Math.max(0, Math.min(d.Start, query.length));
    const end = Math.max(start, Math.min(d.Start + d.Length, query.length));
    return {
      code: d.Code,
      severity: d.Severity,
      message: d.Message,
      start: d.Start,
      length: d.Length,
      byte_start: utf8Length(query.slice(0, start)),
      byte_length: utf8Length(query.slice(start, end)),
    };
  });
  const resultType = semantic ? code.ResultType : null;
  return {
    id,
    ok: !diagnostics.some(d => d.severity === 'Error'),
    kind: code.Kind,
    command: code.Kind === 'Command' ? commandKind(code) : null,
    columns: columnsOf(resultType),
    result_type: resultType ? (resultType.Columns != null ? 'table' : typeName(resultType)) : null,
    diagnostics,
  };
}

function failure(id, message) {
  return {
    id: id === undefined ? null : id,
    ok: false,
    kind: null,
    command: null,
    columns: null,
    result_type: null,
    diagnostics: [{ code: 'ORACLE', severity: 'Error', message, start: 0, length: 0, byte_start: 0, byte_length: 0 }],
    crash: true,
  };
}

function handleLine(K, globals, line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return failure(null, 'invalid JSON request: ' + e.message);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) return failure(null, 'request must be a JSON object');
  const id = req.id === undefined ? null : req.id;
  if (typeof req.query !== 'string') return failure(id, 'request has no string "query"');
  const mode = req.mode === undefined ? 'semantic' : req.mode;
  if (mode !== 'syntax' && mode !== 'semantic') return failure(id, 'mode must be "syntax" or "semantic"');
  try {
    return analyze(K, globals, id, req.query, mode);
  } catch (e) {
    return failure(id, 'oracle exception: ' + (e && e.message ? e.message : String(e)));
  }
}

function parseArgs(argv) {
  const opts = { schema: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--schema') opts.schema = argv[++i];
    else if (a.startsWith('--schema=')) opts.schema = a.slice('--schema='.length);
    else if (a === '-h' || a === '--help') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 13)
        .map(l => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else {
      process.stderr.write(`oracle.js: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return opts;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const K = loadKustoLanguage();
  const globals = makeGlobals(K, opts.schema);
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', line => {
    if (line.trim() === '') return;
    process.stdout.write(JSON.stringify(handleLine(K, globals, line)) + '\n');
  });
}

if (require.main === module) main();
