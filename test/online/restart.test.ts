// serve --online restarts past a corrupt published student: the newest one that verifies serves (with a
// warning for the one skipped) and learning resumes after the last event it learned; with every published
// student corrupt, --model serves. An operator's choice survives a restart, and the published student it
// rolled back to is never pruned from under it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pino } from "pino";
import { readManifest } from "../../src/models/artefact.js";
import { publishedDirs } from "../../src/online/artefacts.js";
import { onlineLearning } from "../../src/online/serve.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { saveServingModel, USERS } from "../helpers/serving.js";

const TOKEN = "restart-online";
const root = mkdtempSync(join(tmpdir(), "distillrec-online-restart-"));
after(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, "student");
const modelVersion = saveServingModel(model, 1);
const stateDir = join(root, "state");
const outDir = join(stateDir, "online");

/** A server with online learning publishing every 100 events; its warnings are collected in `warnings`. */
function start(warnings: string[], state = stateDir): Promise<RunningServer> {
  const logger = pino({ level: "warn", base: undefined }, { write: (line: string) => void warnings.push(line) });
  return startServer({
    model,
    stateDir: state,
    port: 0,
    token: TOKEN,
    logger,
    learner: onlineLearning({ teacher: false, publishEvery: 100, batch: 50 }),
  });
}

async function call(server: RunningServer, method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await response.text();
  return response.status;
}

async function post(server: RunningServer, offset: number, n: number): Promise<void> {
  const events = Array.from({ length: n }, (_, k) => ({
    user: `u${(offset + k) % USERS}`,
    item: `i${(offset + k) % 40}`,
    type: "click",
    timestamp: 1_700_000_000_000 + offset + k,
  }));
  const response = await fetch(`${server.url}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ events }),
  });
  assert.equal(response.status, 200);
}

/** Poll until `check` holds (the learner runs on its own thread). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 25));
}

const corrupt = (dir: string) => writeFileSync(join(dir, "weights.bin"), "damaged");

test(
  "a corrupt newest published student is skipped at restart for the newest valid one, then --model",
  { timeout: 120_000 },
  async () => {
    let server = await start([]);
    // Three published students, the newest swapped in: each batch of 100 events publishes one.
    for (let b = 0; b < 3; b++) {
      await post(server, b * 100, 100);
      await until(() => publishedDirs(outDir).length > b);
    }
    const published = publishedDirs(outDir);
    const newest = published[published.length - 1]!;
    await until(() => server.registry.current.model.dir === newest);
    await server.close();

    corrupt(newest);
    const fallback = published[published.length - 2]!;
    const warnings: string[] = [];
    server = await start(warnings);
    try {
      assert.equal(server.registry.current.model.version, readManifest(fallback).id);
      assert.equal(server.learner!.error, undefined);
      assert.ok(
        warnings.some((line) => line.includes(newest) && /sha256 mismatch/.test(line)),
        `no warning for the corrupt student: ${warnings.join("")}`,
      );
      // Learning resumes after the last event the fallback learned: the events after it are learned again.
      const learnedSeq = readManifest(fallback).lineage.onlineSeq as number;
      const stored = server.store.count();
      const learned = async () =>
        Number(/distillrec_online_events_learned_total (\d+)/.exec(await server.metrics.registry.metrics())?.[1]);
      for (let seen = await learned(); seen < stored - (learnedSeq + 1); seen = await learned()) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.equal(await learned(), stored - (learnedSeq + 1));
    } finally {
      await server.close();
    }

    for (const dir of publishedDirs(outDir)) corrupt(dir);
    server = await start([]);
    try {
      assert.equal(server.registry.current.model.version, modelVersion);
      assert.equal(server.learner!.error, undefined);
    } finally {
      await server.close();
    }
  },
);

test(
  "an operator's rollback to an older published student is resumed after newer ones were published",
  { timeout: 120_000 },
  async () => {
    const state = join(root, "state-operator");
    const other = saveServingModel(join(root, "other"), 2);
    let server = await start([], state);
    await post(server, 0, 100);
    const online = join(state, "online");
    await until(() => server.registry.current.model.dir === publishedDirs(online)[0]);
    const first = server.registry.current.model.version;
    assert.equal(await call(server, "PUT", "/v1/models/current", { dir: "other" }), 200);
    // Four more students are published (not swapped in: the operator's choice stands); three are kept.
    for (let b = 1; b <= 4; b++) {
      await post(server, b * 100, 100);
      await until(() => publishedDirs(online).some((dir) => readManifest(dir).lineage.onlineSeq === b * 100 + 99));
    }
    assert.equal(server.registry.current.model.version, other);
    assert.equal(await call(server, "POST", "/v1/models/rollback"), 200);
    assert.equal(server.registry.current.model.version, first);
    await server.close();

    server = await start([], state);
    try {
      assert.equal(server.registry.current.model.version, first);
    } finally {
      await server.close();
    }
  },
);
