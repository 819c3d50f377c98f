// The recommendation service over real HTTP on loopback: every route, auth refusals, bad input, the
// real-time effect of events, new items, hot swap under concurrent requests and rollback.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { ITEMS, saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-serve-"));
const TOKEN = "s3cret-token";
const modelA = join(root, "model-a");
const modelB = join(root, "model-b");
const versionA = saveServingModel(modelA, 1);
const versionB = saveServingModel(modelB, 2, "int8");

let server: RunningServer;

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function call(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : { text },
  };
}

const ids = (reply: Reply) => (reply.body.items as { id: string }[]).map((i) => i.id);

before(async () => {
  server = await startServer({ model: modelA, stateDir: join(root, "state"), port: 0, token: TOKEN });
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

describe("serving: reads", () => {
  test("health, readiness and Prometheus metrics", async () => {
    assert.deepEqual((await call("GET", "/healthz")).body, { status: "ok" });
    const ready = await call("GET", "/readyz");
    assert.equal(ready.body.model, versionA);
    assert.equal(ready.body.items, ITEMS);
    const metrics = await call("GET", "/metrics");
    assert.match(
      String(metrics.body.text),
      new RegExp(`distillrec_model_info\\{version="${versionA}",kind="two-tower"\\} 1`),
    );
    assert.match(String(metrics.body.text), /distillrec_http_request_duration_seconds_bucket/);
  });

  test("a known user gets k items with scores, best first, none of their recent items", async () => {
    const reply = await call("GET", "/v1/recommend/u3?k=5");
    assert.equal(reply.status, 200);
    assert.equal(reply.body.model, versionA);
    assert.equal(reply.body.fallback, undefined);
    const items = reply.body.items as { id: string; score: number }[];
    assert.equal(items.length, 5);
    for (let r = 1; r < items.length; r++) assert.ok(items[r - 1]!.score >= items[r]!.score);
    const seen = server.registry.current.state.recent("u3");
    for (const id of ids(reply)) assert.ok(!seen.includes(Number(id.slice(1))), `${id} was seen`);
    const withSeen = await call("GET", "/v1/recommend/u3?k=40&excludeSeen=false");
    assert.equal((withSeen.body.items as unknown[]).length, ITEMS);
  });

  test("filters by attribute and exclusion lists", async () => {
    const reply = await call("GET", "/v1/recommend/u3?k=40&filter=category:c2&exclude=i2,i6");
    const got = ids(reply);
    assert.ok(got.length > 0);
    for (const id of got) {
      assert.equal(Number(id.slice(1)) % 4, 2, `${id} is not in c2`);
      assert.ok(id !== "i2" && id !== "i6");
    }
  });

  test("a user with no history gets popular items, marked as the fallback", async () => {
    const reply = await call("GET", "/v1/recommend/stranger?k=3");
    assert.equal(reply.status, 200);
    assert.equal(reply.body.fallback, "popular");
    assert.equal(ids(reply).length, 3);
  });

  test("rank orders a caller's candidates by score and lists unknown ids", async () => {
    const reply = await call("POST", "/v1/rank", { user: "u1", items: ["i1", "i2", "nope", "i3"] });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.unknown, ["nope"]);
    const items = reply.body.items as { id: string; score: number }[];
    assert.deepEqual(ids(reply).sort(), ["i1", "i2", "i3"]);
    assert.ok(items[0]!.score >= items[1]!.score && items[1]!.score >= items[2]!.score);
  });

  test("similar items leave the item out; an unknown item is a 404", async () => {
    const reply = await call("GET", "/v1/similar/i5?k=4");
    assert.equal(reply.status, 200);
    assert.equal(ids(reply).length, 4);
    assert.ok(!ids(reply).includes("i5"));
    const missing = await call("GET", "/v1/similar/zzz");
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.message), /unknown item "zzz"/);
  });
});

describe("serving: refusals", () => {
  test("writes need the bearer token", async () => {
    const event = { events: [{ user: "u1", item: "i1", type: "click" }] };
    const none = await call("POST", "/v1/events", event, null);
    assert.equal(none.status, 401);
    assert.match(String(none.body.message), /bearer token/);
    assert.equal((await call("POST", "/v1/events", event, "wrong")).status, 401);
    assert.equal((await call("PUT", "/v1/items", { items: [{ id: "x" }] }, "s3cret-tokeN")).status, 401);
    assert.equal((await call("POST", "/v1/models/rollback", undefined, null)).status, 401);
    // The token is checked before the body is read: an unauthenticated client learns nothing from validation.
    const unauthenticated = await call("POST", "/v1/events", { events: [] }, null);
    assert.equal(unauthenticated.status, 401);
  });

  test("every class of bad input is a 4xx with the reason, and the server keeps serving", async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ["POST", "/v1/events", "{not json", 400, /JSON/i],
      ["POST", "/v1/events", { events: [] }, 400, /events must NOT have fewer than 1 items/],
      ["POST", "/v1/events", { events: [{ user: "u1", type: "click" }] }, 400, /must have required property 'item'/],
      [
        "POST",
        "/v1/events",
        { events: [{ user: "u1", item: "i1", type: "click", timestamp: "soon" }] },
        400,
        /timestamp/,
      ],
      [
        "POST",
        "/v1/events",
        { events: [{ user: "u1", item: "i1", type: "x", extra: 1 }] },
        400,
        /additional properties/,
      ],
      ["GET", "/v1/recommend/u1?k=0", undefined, 400, /k must be >= 1/],
      ["GET", "/v1/recommend/u1?k=ten", undefined, 400, /k must be integer/],
      ["GET", "/v1/recommend/u1?filter=colour:red", undefined, 400, /unknown attribute "colour"/],
      ["GET", "/v1/recommend/u1?filter=nocolon", undefined, 400, /not of the form attribute:value/],
      ["POST", "/v1/rank", { user: "u1" }, 400, /required property 'items'/],
      [
        "PUT",
        "/v1/items",
        { items: [{ id: "n1", features: { category: ["a", "b"] } }] },
        400,
        /"category" takes one token/,
      ],
      ["GET", "/v1/nothing", undefined, 404, /no route GET \/v1\/nothing/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const reply = await call(method, path, body);
      assert.equal(reply.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(reply.body)}`);
      assert.match(String(reply.body.message), message, `${method} ${path}`);
    }
    const huge = { events: Array.from({ length: 100_000 }, (_, k) => ({ user: `u${k}`, item: "i1", type: "click" })) };
    assert.equal((await call("POST", "/v1/events", huge)).status, 413);
    assert.equal((await call("GET", "/healthz")).status, 200);
  });
});

describe("serving: live events and new items", () => {
  test("events update the user's recent items at once: the next recommendation reflects them", async () => {
    const before = ids(await call("GET", "/v1/recommend/u7?k=10"));
    const watched = ["i0", "i4", "i8", "i12", "i16", "i20"];
    const now = Date.now();
    const ack = await call("POST", "/v1/events", {
      events: watched.map((item, k) => ({ user: "u7", item, type: "purchase", value: 1, timestamp: now + k })),
    });
    assert.equal(ack.status, 200);
    assert.equal(ack.body.accepted, watched.length);
    const after = ids(await call("GET", "/v1/recommend/u7?k=10"));
    assert.notDeepEqual(after, before);
    for (const id of watched) assert.ok(!after.includes(id), `${id} was just bought`);
    const recent = server.registry.current.state.recent("u7");
    assert.deepEqual(Array.from(recent.slice(-watched.length)), [0, 4, 8, 12, 16, 20]);
  });

  test("a new user is served from their events as soon as they have any", async () => {
    await call("POST", "/v1/events", { events: [{ user: "newcomer", item: "i9", type: "click" }] });
    const reply = await call("GET", "/v1/recommend/newcomer?k=5");
    assert.equal(reply.body.fallback, undefined);
    assert.ok(!ids(reply).includes("i9"));
  });

  test("events for unknown items are stored and counted, not applied", async () => {
    const ack = await call("POST", "/v1/events", { events: [{ user: "u1", item: "ghost", type: "click" }] });
    assert.equal(ack.status, 200);
    assert.equal(ack.body.unknownItems, 1);
  });

  test("a new item gets a vector from its features and is recommendable at once", async () => {
    const put = await call("PUT", "/v1/items", { items: [{ id: "fresh", features: { category: "c1", price: 12.5 } }] });
    assert.deepEqual(put.body, { upserted: 1, added: 1, model: versionA, items: ITEMS + 1 });
    // Only items of category c1 and the new one pass this filter, and k covers them all.
    const reply = await call("GET", "/v1/recommend/u2?k=40&filter=category:c1&excludeSeen=false");
    assert.ok(ids(reply).includes("fresh"));
    const similar = await call("GET", "/v1/similar/fresh?k=3");
    assert.equal(similar.status, 200);
    assert.equal(ids(similar).length, 3);
  });
});

describe("serving: model versions", () => {
  test("hot swap under concurrent requests drops none; a corrupted artefact is refused; rollback returns", async () => {
    const requests = Array.from({ length: 120 }, (_, k) => call("GET", `/v1/recommend/u${k % 30}?k=5`));
    const swap = call("PUT", "/v1/models/current", { dir: modelB });
    const more = Array.from({ length: 120 }, (_, k) => call("GET", `/v1/recommend/u${k % 30}?k=5`));
    const replies = await Promise.all([...requests, ...more]);
    assert.ok(replies.every((r) => r.status === 200));
    const versions = new Set(replies.map((r) => r.body.model));
    assert.ok([...versions].every((v) => v === versionA || v === versionB));
    assert.deepEqual((await swap).body, { from: versionA, to: versionB });
    assert.equal((await call("GET", "/v1/models")).body.previous, versionA);

    // The new version kept the live state: the new item and u7's purchases.
    assert.ok(ids(await call("GET", "/v1/similar/fresh?k=1")).length === 1);
    assert.ok(!ids(await call("GET", "/v1/recommend/u7?k=10")).includes("i0"));

    const broken = join(root, "broken");
    cpSync(modelA, broken, { recursive: true });
    writeFileSync(join(broken, "weights.bin"), "not weights");
    const refused = await call("PUT", "/v1/models/current", { dir: broken });
    assert.equal(refused.status, 422);
    assert.match(String(refused.body.message), /weights\.bin: corrupted: sha256 mismatch/);
    assert.equal((await call("GET", "/readyz")).body.model, versionB);

    assert.deepEqual((await call("POST", "/v1/models/rollback")).body, { from: versionB, to: versionA });
    assert.equal((await call("GET", "/v1/recommend/u1?k=3")).body.model, versionA);
    const metrics = String((await call("GET", "/metrics")).body.text);
    assert.match(metrics, /distillrec_model_swaps_total\{action="swap",result="refused"\} 1/);
  });
});

describe("serving: the approximate index", () => {
  test("an IVF index probing every list answers as the exact scan does", async () => {
    const ivf = await startServer({ model: modelA, stateDir: join(root, "state-ivf"), port: 0, index: "ivf" });
    const exact = await startServer({ model: modelA, stateDir: join(root, "state-exact"), port: 0, index: "exact" });
    try {
      for (const user of ["u0", "u11", "u29"]) {
        const [a, b] = await Promise.all(
          [ivf, exact].map(
            async (s) => (await (await fetch(`${s.url}/v1/recommend/${user}?k=10`)).json()) as Reply["body"],
          ),
        );
        assert.deepEqual(a!.items, b!.items);
      }
    } finally {
      await ivf.close();
      await exact.close();
    }
  });
});
