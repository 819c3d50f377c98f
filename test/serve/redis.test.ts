// Servers sharing a real Redis: two replicas answer alike, an event or item written to one is in the next
// answer of the other, a retried batch counts once, a swap or rollback on one is served by both, and a
// Redis restarted under load makes requests fail fast with 503, then recover, with nothing acknowledged lost.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseRedisUrl, RedisUrlError } from "../../src/serve/redis.js";
import { RedisStore } from "../../src/serve/redis-store.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { redisMissing, TestRedis } from "../helpers/redis.js";
import { saveServingModel, USERS } from "../helpers/serving.js";

const TOKEN = "redis-secret";
const skip = redisMissing();

async function call(server: RunningServer, method: string, path: string, body?: unknown, headers = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Poll until `check` holds (pub/sub reaches the other replica on its own time); fails after 10 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting for the other replica");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function clicks(user: string, items: string[], at = 1_700_000_000_000) {
  return { events: items.map((item, k) => ({ user, item, type: "click", timestamp: at + k })) };
}

test("a --redis URL is redis://host:port[/db]", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6380/2"), { host: "127.0.0.1", port: 6380, db: 2 });
  assert.deepEqual(parseRedisUrl("redis://cache"), { host: "cache", port: 6379, db: 0 });
  for (const bad of ["localhost:6379", "http://h:1", "redis://h:1/x", "redis://h:1/16", "redis://:pw@h", "redis://"]) {
    assert.throws(() => parseRedisUrl(bad), RedisUrlError, bad);
  }
});

describe("two replicas on one Redis", { skip }, () => {
  let redis: TestRedis;
  let root: string;
  let a: RunningServer;
  let b: RunningServer;
  let versionA: string;
  let versionB: string;

  before(async () => {
    redis = await TestRedis.start();
    root = mkdtempSync(join(tmpdir(), "distillrec-redis-"));
    mkdirSync(join(root, "models"));
    versionA = saveServingModel(join(root, "models", "a"), 1);
    versionB = saveServingModel(join(root, "models", "b"), 2);
    const options = {
      model: join(root, "models", "a"),
      stateDir: join(root, "shared"),
      port: 0,
      token: TOKEN,
      redis: { url: redis.url },
    };
    a = await startServer(options);
    b = await startServer(options);
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test("answer alike, and an event posted to one is in the other's next answer", async () => {
    for (let u = 0; u < USERS; u += 7) {
      const [fromA, fromB] = [
        await call(a, "GET", `/v1/recommend/u${u}?k=5`),
        await call(b, "GET", `/v1/recommend/u${u}?k=5`),
      ];
      assert.equal(fromA.status, 200);
      assert.deepEqual(fromB.body, fromA.body);
    }
    const before = await call(b, "GET", "/v1/recommend/u3?k=40");
    const seen = (before.body.items as { id: string }[]).slice(0, 3).map((i) => i.id);
    const posted = await call(a, "POST", "/v1/events", clicks("u3", seen));
    assert.equal(posted.status, 200);
    // excludeSeen: the items u3 just took leave B's answer at once.
    const next = await call(b, "GET", "/v1/recommend/u3?k=40");
    const ids = (next.body.items as { id: string }[]).map((i) => i.id);
    for (const item of seen) assert.ok(!ids.includes(item), `${item} was taken on A, and B still recommends it`);
    assert.deepEqual((await call(a, "GET", "/v1/recommend/u3?k=40")).body, next.body);
    // A user no model knows, first seen on B, is served from their events on A.
    await call(b, "POST", "/v1/events", clicks("newcomer", ["i1", "i2"]));
    assert.deepEqual(
      (await call(a, "GET", "/v1/recommend/newcomer?k=5")).body,
      (await call(b, "GET", "/v1/recommend/newcomer?k=5")).body,
    );
    assert.equal((await call(a, "GET", "/readyz")).body.events, (await call(b, "GET", "/readyz")).body.events);
  });

  test("a batch retried with the same Idempotency-Key, on either replica, is stored once", async () => {
    const count = (await call(a, "GET", "/readyz")).body.events as number;
    const batch = clicks("retrier", ["i5", "i6", "i7"]);
    const key = { "idempotency-key": "batch-42" };
    const first = await call(a, "POST", "/v1/events", batch, key);
    const again = await call(b, "POST", "/v1/events", batch, key);
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.equal(again.body.firstSeq, first.body.firstSeq);
    assert.equal((await call(a, "GET", "/readyz")).body.events, count + 3);
    assert.equal((await call(b, "GET", "/readyz")).body.events, count + 3);
    assert.equal((await call(a, "POST", "/v1/events", batch, { "idempotency-key": "" })).status, 400);
  });

  test("an item added on one replica is in the other's catalogue", async () => {
    const put = await call(a, "PUT", "/v1/items", { items: [{ id: "brand-new", features: { category: "c1" } }] });
    assert.equal(put.status, 200);
    assert.equal(put.body.added, 1);
    const similar = await call(b, "GET", "/v1/similar/brand-new?k=3");
    assert.equal(similar.status, 200, JSON.stringify(similar.body));
    assert.equal((await call(a, "GET", "/readyz")).body.items, (await call(b, "GET", "/readyz")).body.items);
  });

  test("a swap on one replica and a rollback on the other are served by both", async () => {
    const swapped = await call(a, "PUT", "/v1/models/current", { dir: "b" });
    assert.equal(swapped.status, 200, JSON.stringify(swapped.body));
    assert.equal(a.registry.current.model.version, versionB);
    await until(
      async () =>
        (await call(b, "GET", "/v1/models")).body.current !== undefined &&
        b.registry.current.model.version === versionB,
    );
    assert.deepEqual(
      (await call(b, "GET", "/v1/recommend/u3?k=5")).body,
      (await call(a, "GET", "/v1/recommend/u3?k=5")).body,
    );
    const rolled = await call(b, "POST", "/v1/models/rollback");
    assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
    await until(async () => a.registry.current.model.version === versionA);
    assert.equal(b.registry.current.model.version, versionA);
  });

  test("a replica started later serves the shared version and the shared events", async () => {
    await call(a, "PUT", "/v1/models/current", { dir: "b" });
    await until(async () => b.registry.current.model.version === versionB);
    const c = await startServer({
      model: join(root, "models", "a"),
      stateDir: join(root, "shared"),
      port: 0,
      token: TOKEN,
      redis: { url: redis.url },
    });
    try {
      assert.equal(c.registry.current.model.version, versionB);
      assert.deepEqual(
        (await call(c, "GET", "/v1/recommend/u3?k=5")).body,
        (await call(a, "GET", "/v1/recommend/u3?k=5")).body,
      );
    } finally {
      await c.close();
    }
  });

  test("Redis restarted under load: requests fail fast with 503, then recover; nothing acknowledged is lost", async () => {
    const acknowledged: { first: number; events: ReturnType<typeof clicks>["events"] }[] = [];
    const statuses = new Map<number, number>();
    let stop = false;
    let sent = 0;
    const writer = async (server: RunningServer) => {
      while (!stop) {
        const k = sent++;
        const batch = clicks(`load-${k % 13}`, [`i${k % 40}`, `i${(k * 3) % 40}`], 1_700_000_100_000 + k);
        // Each batch is retried with its key until acknowledged: a lost answer never counts it twice.
        for (;;) {
          const res = await call(server, "POST", "/v1/events", batch, { "idempotency-key": `load-${k}` });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 200) {
            acknowledged.push({ first: res.body.firstSeq as number, events: batch.events });
            break;
          }
          assert.equal(res.status, 503, JSON.stringify(res.body));
          assert.match(String(res.body.message), /Redis/);
          await new Promise((r) => setTimeout(r, 20));
          if (stop) return;
        }
      }
    };
    const reader = async (server: RunningServer) => {
      for (let k = 0; !stop; k++) {
        const res = await call(server, "GET", `/v1/recommend/u${k % USERS}?k=5`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status === 200 || res.status === 503, JSON.stringify(res.body));
        if (res.status === 503) await new Promise((r) => setTimeout(r, 20));
      }
    };
    const load = [writer(a), writer(b), reader(a), reader(b)];
    await until(async () => acknowledged.length >= 20);
    await redis.kill();
    const downAt = acknowledged.length;
    await until(async () => (statuses.get(503) ?? 0) >= 10);
    // Alive but not ready: a probe must not restart a server because Redis is away.
    assert.equal((await call(a, "GET", "/healthz")).status, 200);
    const notReady = await call(b, "GET", "/readyz");
    assert.equal(notReady.status, 503);
    assert.match(String(notReady.body.message), /the shared store \(Redis\) is unavailable/);
    await redis.restart();
    await until(async () => acknowledged.length >= downAt + 20);
    stop = true;
    await Promise.all(load);
    assert.ok((statuses.get(503) ?? 0) >= 10);
    // Both replicas are whole again, and every acknowledged event is in the log, once, where it was put.
    const store = await RedisStore.open({ url: redis.url });
    try {
      const log = [...store.events()];
      const retried = new Set<number>();
      for (const { first, events } of acknowledged) {
        events.forEach((e, j) => assert.deepEqual(log[first + j], { ...e, seq: first + j }));
        retried.add(first);
      }
      assert.equal(retried.size, acknowledged.length, "two acknowledged batches share sequence numbers");
      await until(async () => (await call(a, "GET", "/readyz")).status === 200);
      assert.equal((await call(b, "GET", "/readyz")).body.events, store.count());
      assert.equal((await call(a, "GET", "/readyz")).body.events, store.count());
    } finally {
      await store.close();
    }
  });
});
