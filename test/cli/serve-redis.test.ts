// `distillrec serve --redis`: a URL that is not redis://host:port[/db], or a Redis that does not answer, is
// one clear line and exit code 2, never a stack trace.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../helpers/redis.js";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-serve-redis-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));
const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const model = join(root, "model");
saveServingModel(model, 1);

function serve(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, "serve", "--model", model, "--state", root, "--port", "0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stderr })));
}

test("a --redis URL that is not redis://host:port[/db] is a usage error", async () => {
  for (const url of ["localhost:6379", "redis://h:1/db", "rediss://h:1"]) {
    const { code, stderr } = await serve(["--redis", url]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^distillrec: --redis ".*"/m);
    assert.doesNotMatch(stderr, /^\s+at /m, stderr);
  }
});

test("a Redis that does not answer is a usage error naming it", async () => {
  const port = await freePort();
  const { code, stderr } = await serve(["--redis", `redis://127.0.0.1:${port}`]);
  assert.equal(code, 2, stderr);
  assert.match(stderr, new RegExp(`distillrec: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}`));
  assert.doesNotMatch(stderr, /^\s+at /m, stderr);
});
