// kill -9 on a real Redis deployment: of a replica in the middle of ingest (its clients retry on the other
// replica with the same Idempotency-Key), and of the learner (another server takes its lease and learns on).
// No acknowledged event is lost, none is counted twice.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { readManifest } from "../../src/models/artefact.js";
import { latestPublished } from "../../src/online/artefacts.js";
import { RedisStore } from "../../src/serve/redis-store.js";
import { redisMissing, TestRedis } from "../helpers/redis.js";
import { saveServingModel, USERS } from "../helpers/serving.js";

const TOKEN = "redis-crash-token";
const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.js");
const skip = redisMissing();
const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };

interface Child {
  child: ChildProcess;
  url: string;
  log: () => string;
}

/** `distillrec serve --redis …` in a child process; resolves once it listens. */
function serve(args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [cli, "serve", "--port", "0", ...args], {
    env: { ...process.env, DISTILLREC_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "inherit"],
  });
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

async function kill9(server: Child): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGKILL");
  await exited;
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const end = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const BATCH = 50;

/** Batch k: BATCH events of user crash-k (so the log tells how many times each batch was stored). */
function batch(k: number) {
  return {
    events: Array.from({ length: BATCH }, (_, j) => ({
      user: `crash-${k}`,
      item: `i${(k * 7 + j) % 40}`,
      type: "click",
      timestamp: 1_700_000_000_000 + k * 1000 + j,
    })),
  };
}

/** Post batch k to the first server that answers, retrying with its key; false once every server is gone. */
async function post(servers: Child[], k: number): Promise<{ first: number } | false> {
  for (const server of servers) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) continue;
    try {
      const res = await fetch(`${server.url}/v1/events`, {
        method: "POST",
        headers: { ...headers, "idempotency-key": `batch-${k}` },
        body: JSON.stringify(batch(k)),
      });
      if (res.status === 200) return { first: ((await res.json()) as { firstSeq: number }).firstSeq };
    } catch {
      // This replica died under the request: its answer is lost, so the batch goes to the next one.
    }
  }
  return false;
}

/** Every acknowledged batch is in the log exactly once, at the sequence numbers it was given. */
async function checkLog(url: string, acknowledged: Map<number, number>): Promise<void> {
  const store = await RedisStore.open({ url });
  try {
    const perBatch = new Map<string, number>();
    for (const e of store.events()) perBatch.set(e.user, (perBatch.get(e.user) ?? 0) + 1);
    for (const [k, first] of acknowledged) {
      assert.equal(
        perBatch.get(`crash-${k}`),
        BATCH,
        `batch ${k} is stored ${perBatch.get(`crash-${k}`) ?? 0} times over`,
      );
      const events = [...store.events(first)].slice(0, BATCH);
      assert.deepEqual(
        events.map(({ user, item }) => ({ user, item })),
        batch(k).events.map(({ user, item }) => ({ user, item })),
      );
    }
    for (const [user, count] of perBatch) if (user.startsWith("crash-")) assert.equal(count, BATCH, user);
  } finally {
    await store.close();
  }
}

/** [k1, v1, k2, v2, …] → [[k1, v1], …] (how Redis replies with a map). */
function pairs(flat: (string | number)[]): [string, string | number][] {
  return Array.from({ length: flat.length / 2 }, (_, i) => [String(flat[2 * i]), flat[2 * i + 1]!]);
}

describe("kill -9 with the state in Redis", { skip }, () => {
  let redis: TestRedis;
  let root: string;
  let model: string;
  const children: Child[] = [];

  before(async () => {
    redis = await TestRedis.start();
    root = mkdtempSync(join(tmpdir(), "distillrec-redis-crash-"));
    model = join(root, "models", "a");
    mkdirSync(dirname(model), { recursive: true });
    saveServingModel(model, 3);
  });

  after(async () => {
    for (const child of children) await kill9(child);
    await redis?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test("of a replica mid-ingest: its clients retry on the other, nothing acknowledged is lost or doubled", async () => {
    const args = ["--model", model, "--state", join(root, "shared-1"), "--redis", `${redis.url}/1`];
    const a = await serve(args);
    const b = await serve(args);
    children.push(a, b);
    const acknowledged = new Map<number, number>();
    let next = 0;
    // Writers on both replicas; those on A fail over to B once A is gone.
    const writer = async (servers: Child[]) => {
      while (next < 200) {
        const k = next++;
        const result = await post(servers, k);
        assert.ok(result, `no replica took batch ${k}`);
        acknowledged.set(k, result.first);
        if (acknowledged.size >= 40) await kill9(a);
      }
    };
    await Promise.all([writer([a, b]), writer([a, b]), writer([a, b]), writer([b, a])]);
    assert.ok(a.child.signalCode === "SIGKILL");
    await checkLog(`${redis.url}/1`, acknowledged);
    // B serves the batches A took before it died.
    const res = await fetch(`${b.url}/readyz`);
    assert.equal(((await res.json()) as { events: number }).events, 200 * BATCH);
    await kill9(b);
  });

  test("of the learner: another server takes its lease and learns on from the shared log", async () => {
    const url = `${redis.url}/2`;
    const state = join(root, "shared-2");
    const args = ["--model", model, "--state", state, "--redis", url, "--online", "--no-teacher"];
    const learning = [...args, "--publish-every", "200", "--learner-lease", "600"];
    const lease = new Redis(url);
    try {
      const a = await serve(learning);
      children.push(a);
      await until(async () => (await lease.get("distillrec:learner")) !== null, "A takes the lease");
      const holderA = await lease.get("distillrec:learner");
      const b = await serve(learning);
      children.push(b);
      const acknowledged = new Map<number, number>();
      for (let k = 0; k < 10; k++) acknowledged.set(k, ((await post([a], k)) as { first: number }).first);
      await kill9(a);
      await until(async () => {
        const holder = await lease.get("distillrec:learner");
        return holder !== null && holder !== holderA;
      }, "B takes the lease once A's runs out");
      // The key changes before B's log line reaches us: wait for the line rather than race it.
      await until(() => /learner lease taken/.test(b.log()), "B logs that it took the lease");
      for (let k = 10; k < 30; k++) acknowledged.set(k, ((await post([b], k)) as { first: number }).first);
      // B's learner learns the events posted since it took over, and publishes a student B serves.
      const online = join(state, "online");
      await until(
        () => (latestPublished(online)?.seq ?? -1) >= 10 * BATCH,
        "B's learner publishes a student that learned events posted after A died",
      );
      await until(async () => {
        const res = await fetch(`${b.url}/v1/models`);
        const { current } = (await res.json()) as { current: { version: string } };
        return current.version === readManifest(latestPublished(online)!.dir).id;
      }, "B serves the student it published");
      // The learning server's consumer group has taken in the whole stream, A's pending entries included.
      await until(async () => {
        const groups = (await lease.xinfo("GROUPS", "distillrec:log")) as (string | number)[][];
        const group = groups.map((g) => Object.fromEntries(pairs(g))).find((g) => g.name === "learner");
        return group !== undefined && group.pending === 0 && group.lag === 0;
      }, "the learner's consumer group is at the end of the stream");
      assert.equal((await fetch(`${b.url}/v1/recommend/u${USERS - 1}?k=5`)).status, 200);
      await checkLog(url, acknowledged);
      await kill9(b);
    } finally {
      lease.disconnect();
    }
  });
});
