// kill -9 in the middle of ingesting events over HTTP: after a restart every acknowledged event is there,
// and the users they made are served from them.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-crash-"));
after(() => rmSync(root, { recursive: true, force: true }));
const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");
const TOKEN = "crash-token";
const model = join(root, "model");
saveServingModel(model, 3);

/** Start `distillrec serve` in a child process; resolves with its URL once it listens. */
function serve(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [cli, "serve", "--model", model, "--state", join(root, "state"), "--port", "0"],
    {
      env: { ...process.env, DISTILLREC_TOKEN: TOKEN },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code} before listening: ${out}`)));
  });
}

/** A child killed by a signal has a signalCode and no exitCode. */
function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function batch(k: number) {
  return {
    events: Array.from({ length: 200 }, (_, j) => ({
      user: `crash-${k}`,
      item: `i${(k * 7 + j) % 40}`,
      type: "click",
      timestamp: 1_700_000_000_000 + k * 1000 + j,
    })),
  };
}

test("kill -9 mid-ingest loses no acknowledged event, and user states come back", async () => {
  const first = await serve();
  const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
  let acknowledged = 0;
  let sent = 0;
  // Four writers keep batches in flight, so the kill lands in the middle of some.
  const writer = async () => {
    for (;;) {
      const k = sent++;
      try {
        const response = await fetch(`${first.url}/v1/events`, {
          method: "POST",
          headers,
          body: JSON.stringify(batch(k)),
        });
        if (response.status !== 200) return;
        acknowledged += ((await response.json()) as { accepted: number }).accepted;
      } catch {
        return; // the server is gone
      }
      if (acknowledged >= 4000 && running(first.child)) first.child.kill("SIGKILL");
    }
  };
  await Promise.all([writer(), writer(), writer(), writer()]);
  await new Promise((resolve) => (running(first.child) ? first.child.once("exit", resolve) : resolve(null)));
  assert.equal(first.child.signalCode, "SIGKILL");
  assert.ok(acknowledged >= 4000);

  const second = await serve();
  try {
    const ready = (await (await fetch(`${second.url}/readyz`)).json()) as { events: number };
    assert.ok(ready.events >= acknowledged, `${ready.events} stored, ${acknowledged} acknowledged`);
    // crash-0 exists only through its events: served from them, not from the popularity fallback.
    const reply = (await (await fetch(`${second.url}/v1/recommend/crash-0?k=5`)).json()) as { fallback?: string };
    assert.equal(reply.fallback, undefined);
  } finally {
    second.child.kill("SIGTERM");
    await new Promise((resolve) => second.child.once("exit", resolve));
  }
});
