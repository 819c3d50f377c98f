// `distillrec serve` refuses an address it cannot use with one clear line, never a stack trace: a port
// out of range at parse time, a port in use when listening (a usage error, exit code 2); a missing
// models directory likewise.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-serve-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));
const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const model = join(root, "model");
saveServingModel(model, 1);

/** Run `distillrec serve` with `args`; resolves with its exit code and stderr once it exits. */
function serve(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, "serve", "--model", model, "--state", join(root, "state"), ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stderr })));
}

const noStack = (stderr: string) => assert.doesNotMatch(stderr, /^\s+at /m, stderr);

test("a port out of range is refused at parse time, without a stack trace", async () => {
  for (const port of ["99999", "-1", "1.5", "http"]) {
    const { code, stderr } = await serve(["--port", port]);
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      new RegExp(`option '--port <n>' argument '${port}' is invalid. must be a port number, 0 to 65535`),
    );
    noStack(stderr);
  }
});

test("a port in use is a usage error naming the address, without a stack trace", async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = taken.address() as AddressInfo;
    const { code, stderr } = await serve(["--port", String(port)]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`distillrec: cannot listen: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
    noStack(stderr);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test("a missing --models directory is a usage error", async () => {
  const { code, stderr } = await serve(["--port", "0", "--models", join(root, "no-models")]);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /distillrec: --models .*no-models: no such directory/);
  noStack(stderr);
});

test("--rate-limit caps each client's requests per minute (429 with the reason); the health routes stay open", async () => {
  const { serve: start } = await import("../../src/cli/commands/serve.js");
  const running = await start({
    model,
    state: join(root, "state-rate"),
    host: "127.0.0.1",
    port: 0,
    index: "exact",
    quiet: true,
    rateLimit: 3,
    requestTimeout: 5_000,
    maxConnections: 100,
  });
  try {
    const statuses: number[] = [];
    for (let k = 0; k < 4; k++) statuses.push((await fetch(`${running.url}/v1/recommend/u1?k=5`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const refused = await fetch(`${running.url}/v1/recommend/u1?k=5`);
    assert.equal(refused.status, 429);
    assert.ok(refused.headers.get("retry-after"), "Retry-After is set");
    assert.match(((await refused.json()) as { message: string }).message, /rate limit/i);
    assert.equal((await fetch(`${running.url}/healthz`)).status, 200);
  } finally {
    await running.close();
  }
});

/** Start `distillrec serve` with `args` and read its stdout until it names the dashboard; then stop it. */
async function servingLog(args: string[]): Promise<string> {
  const child = spawn(
    process.execPath,
    [MAIN, "serve", "--model", model, "--state", join(root, "state-log"), "--port", "0", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("/dashboard")) resolve(out);
      });
      child.once("close", (code) => reject(new Error(`serve exited (${code}) before serving:\n${out}`)));
    });
  } finally {
    const closed = new Promise((resolve) => child.once("close", resolve));
    child.kill("SIGTERM");
    await closed;
  }
}

test("the log is JSON off a terminal, readable lines with --log-format human; both name the dashboard", async () => {
  const line = (await servingLog([])).split("\n").find((l) => l.includes('"serving"'))!;
  const json = JSON.parse(line) as { msg: string; url: string; dashboard: string; docs: string };
  assert.equal(json.msg, "serving");
  assert.equal(json.dashboard, `${json.url}/dashboard`);
  assert.equal(json.docs, `${json.url}/docs`);
  const human = await servingLog(["--log-format", "human"]);
  assert.doesNotMatch(human, /^\{/m);
  assert.match(human, /INFO: serving/);
  assert.match(human, /dashboard: "http:\/\/127\.0\.0\.1:\d+\/dashboard"/);
});
