// kill -9 of `distillrec serve` while events stream in and hot swaps follow one another: after a restart
// every acknowledged event is stored and the version of the last acknowledged swap serves (or the swap in
// flight at the kill, which may have been recorded without being acknowledged). A recorded version that
// no longer verifies is skipped with a warning for --model.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-restart-"));
after(() => rmSync(root, { recursive: true, force: true }));
const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");
const TOKEN = "restart-token";
const models = join(root, "models");
mkdirSync(models);
const versions: Record<string, string> = {
  a: saveServingModel(join(models, "a"), 1),
  b: saveServingModel(join(models, "b"), 2),
  c: saveServingModel(join(models, "c"), 3, "int8"),
};
const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };

interface Child {
  child: ChildProcess;
  url: string;
  /** Everything the server logged so far. */
  log: () => string;
}

/** Start `distillrec serve` in a child process; resolves with its URL once it listens. */
function serve(): Promise<Child> {
  const child = spawn(
    process.execPath,
    [cli, "serve", "--model", join(models, "a"), "--models", models, "--state", join(root, "state"), "--port", "0"],
    { env: { ...process.env, DISTILLREC_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) resolve({ child, url: match[1]!, log: () => out });
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code} before listening: ${out}`)));
  });
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exited(child: ChildProcess): Promise<unknown> {
  return running(child) ? new Promise((resolve) => child.once("exit", resolve)) : Promise.resolve();
}

async function served(url: string): Promise<{ model: string; events: number }> {
  return (await (await fetch(`${url}/readyz`)).json()) as { model: string; events: number };
}

let sent = 0;
let acknowledgedEvents = 0;

/**
 * One round: four writers post events and one operator swaps a → b → c → a … until `killAfter` swaps are
 * acknowledged, when a writer kills the server (so a swap may be in flight). Returns the version of the last
 * acknowledged swap and of the one in flight, if any.
 */
async function round(server: Child, killAfter: number): Promise<{ acknowledged: string; inFlight?: string }> {
  let acknowledged = (await served(server.url)).model;
  let inFlight: string | undefined;
  let swaps = 0;
  const writer = async () => {
    for (;;) {
      const k = sent++;
      const events = Array.from({ length: 100 }, (_, j) => ({
        user: `restart-${k}`,
        item: `i${(k + j) % 40}`,
        type: "click",
        timestamp: 1_700_000_000_000 + k * 100 + j,
      }));
      try {
        const response = await fetch(`${server.url}/v1/events`, {
          method: "POST",
          headers,
          body: JSON.stringify({ events }),
        });
        if (response.status !== 200) return;
        acknowledgedEvents += ((await response.json()) as { accepted: number }).accepted;
      } catch {
        return; // the server is gone
      }
      if (swaps >= killAfter && running(server.child)) server.child.kill("SIGKILL");
    }
  };
  const operator = async () => {
    for (let n = 0; ; n++) {
      const name = ["b", "c", "a"][n % 3]!;
      inFlight = versions[name];
      try {
        const response = await fetch(`${server.url}/v1/models/current`, {
          method: "PUT",
          headers,
          body: JSON.stringify({ dir: name }),
        });
        if (response.status !== 200) return;
        acknowledged = ((await response.json()) as { to: string }).to;
        inFlight = undefined;
        swaps++;
      } catch {
        return;
      }
    }
  };
  await Promise.all([writer(), writer(), writer(), writer(), operator()]);
  await exited(server.child);
  assert.equal(server.child.signalCode, "SIGKILL");
  assert.ok(swaps >= killAfter);
  return { acknowledged, ...(inFlight === undefined ? {} : { inFlight }) };
}

test("kill -9 under load and during swaps: no acknowledged event lost, the acknowledged version serves", async () => {
  let server = await serve();
  for (const killAfter of [3, 5]) {
    const { acknowledged, inFlight } = await round(server, killAfter);
    server = await serve();
    const after = await served(server.url);
    assert.ok(after.events >= acknowledgedEvents, `${after.events} stored, ${acknowledgedEvents} acknowledged`);
    assert.ok(
      after.model === acknowledged || after.model === inFlight,
      `serving ${after.model}: the last acknowledged swap was to ${acknowledged}, ${inFlight ?? "none"} in flight`,
    );
  }
  // A swap acknowledged just before a clean stop is resumed as well.
  const swap = await fetch(`${server.url}/v1/models/current`, {
    method: "PUT",
    headers,
    body: JSON.stringify({ dir: "c" }),
  });
  assert.equal(swap.status, 200);
  server.child.kill("SIGTERM");
  await exited(server.child);
  server = await serve();
  try {
    assert.equal((await served(server.url)).model, versions.c);
  } finally {
    server.child.kill("SIGTERM");
    await exited(server.child);
  }

  // The recorded artefact is damaged while the server is down: --model serves, with a warning.
  writeFileSync(join(models, "c", "weights.bin"), "damaged");
  server = await serve();
  try {
    assert.equal((await served(server.url)).model, versions.a);
    assert.match(server.log(), /artefact skipped at start.*sha256 mismatch|sha256 mismatch.*artefact skipped at start/);
  } finally {
    server.child.kill("SIGTERM");
    await exited(server.child);
  }
});
