// A Calypso server for the Node end-to-end tests: the real binary on 127.0.0.1, port 0,
// with a temporary data directory.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function startServer() {
  const bin = process.env.CALYPSO_BIN;
  assert.ok(bin, "CALYPSO_BIN must name the calypso binary");
  const dataDir = mkdtempSync(join(tmpdir(), "calypso-node-"));
  const proc = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout.on("data", (chunk) => {
      buf += chunk.toString();
      const m = buf.match(/Calypso listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    url,
    stop() {
      proc.kill("SIGTERM");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
