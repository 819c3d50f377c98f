// What the routes' schemas refuse and why: non-finite k, one id length limit on every route, lone
// surrogates, wrong JSON types (never coerced in a body), implausible event times and values, and no
// server paths in the answers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InjectOptions } from "fastify";
import { MAX_ID_LENGTH } from "../../src/serve/schemas.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-validation-"));
const TOKEN = "validation-token";
let server: RunningServer;

before(async () => {
  const model = join(root, "model");
  saveServingModel(model, 1);
  server = await startServer({ model, stateDir: join(root, "state"), port: 0, token: TOKEN });
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

async function call(method: InjectOptions["method"], url: string, payload?: unknown) {
  const reply = await server.app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(payload === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(payload === undefined ? {} : { payload: typeof payload === "string" ? payload : JSON.stringify(payload) }),
  });
  return { status: reply.statusCode, message: String((reply.json() as { message?: string }).message ?? "") };
}

const event = (fields: Record<string, unknown>) => ({ events: [{ user: "u1", item: "i1", type: "click", ...fields }] });

describe("serving: query numbers", () => {
  test("k must be a finite integer from 1 to 1000 on every route that takes it", async () => {
    for (const route of ["/v1/recommend/u1", "/v1/similar/i1"]) {
      for (const k of ["Infinity", "-Infinity", "1e400"]) {
        const reply = await call("GET", `${route}?k=${k}`);
        assert.equal(reply.status, 400, `${route} k=${k}`);
        assert.match(reply.message, /k must be a finite number/);
      }
      assert.match((await call("GET", `${route}?k=1001`)).message, /k must be <= 1000/);
      assert.equal((await call("GET", `${route}?k=3`)).status, 200);
    }
  });
});

describe("serving: ids", () => {
  const longest = "x".repeat(MAX_ID_LENGTH);
  const tooLong = "x".repeat(MAX_ID_LENGTH + 1);
  const routes: [string, (id: string) => [InjectOptions["method"], string, unknown?]][] = [
    ["recommend", (id) => ["GET", `/v1/recommend/${encodeURIComponent(id)}`]],
    ["similar", (id) => ["GET", `/v1/similar/${encodeURIComponent(id)}`]],
    ["rank user", (id) => ["POST", "/v1/rank", { user: id, items: ["i1"] }]],
    ["rank items", (id) => ["POST", "/v1/rank", { user: "u1", items: [id] }]],
    ["event user", (id) => ["POST", "/v1/events", event({ user: id })]],
    ["event item", (id) => ["POST", "/v1/events", event({ item: id })]],
    ["item id", (id) => ["PUT", "/v1/items", { items: [{ id }] }]],
  ];

  test(`every route takes ids of up to ${MAX_ID_LENGTH} characters and refuses longer ones alike`, async () => {
    for (const [name, request] of routes) {
      const accepted = await call(...request(longest));
      // similar answers 404 for an id the catalogue does not hold: the id itself was taken.
      assert.ok(accepted.status === 200 || accepted.status === 404, `${name}: ${accepted.status} ${accepted.message}`);
      const refused = await call(...request(tooLong));
      assert.equal(refused.status, 400, `${name}: ${refused.status}`);
      assert.match(refused.message, new RegExp(`must NOT have more than ${MAX_ID_LENGTH} characters`), name);
    }
  });

  test("the limit counts characters, not bytes: the longest id of 4-byte characters reaches a path route", async () => {
    const emoji = "\u{1F600}".repeat(MAX_ID_LENGTH);
    assert.equal((await call("GET", `/v1/recommend/${encodeURIComponent(emoji)}`)).status, 200);
    assert.equal((await call("POST", "/v1/events", event({ user: emoji }))).status, 200);
  });

  test("ids with a lone surrogate are refused in every body (they would change in the store)", async () => {
    const lone = JSON.stringify("u\ud800x");
    const bodies: [string, string][] = [
      ["/v1/events", `{"events":[{"user":${lone},"item":"i1","type":"click"}]}`],
      ["/v1/events", `{"events":[{"user":"u1","item":"i1","type":${lone}}]}`],
      ["/v1/rank", `{"user":${lone},"items":["i1"]}`],
    ];
    for (const [url, body] of bodies) {
      const reply = await call("POST", url, body);
      assert.equal(reply.status, 400, body);
      assert.match(reply.message, /well-formed Unicode/);
    }
    const item = await call("PUT", "/v1/items", `{"items":[{"id":"n1","features":{"category":${lone}}}]}`);
    assert.match(item.message, /well-formed Unicode/);
    // A paired surrogate is an ordinary character.
    assert.equal((await call("POST", "/v1/events", event({ user: "u\u{1F600}" }))).status, 200);
  });
});

describe("serving: strict bodies", () => {
  test("a body's types are not coerced: strings for numbers, arrays for strings, numbers for booleans", async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ["POST", "/v1/events", event({ item: ["i1"] }), /events\/0\/item must be string/],
      ["POST", "/v1/events", event({ value: "5" }), /events\/0\/value must be number/],
      ["POST", "/v1/events", event({ timestamp: "1700000000000" }), /events\/0\/timestamp must be number/],
      ["POST", "/v1/events", event({ user: 42 }), /events\/0\/user must be string/],
      ["POST", "/v1/rank", { user: ["u1"], items: ["i1"] }, /user must be string/],
      ["POST", "/v1/rank", { user: "u1", items: "i1" }, /items must be array/],
      ["PUT", "/v1/items", { items: [{ id: 7 }] }, /items\/0\/id must be string/],
    ];
    for (const [method, url, body, reason] of cases) {
      const reply = await call(method as InjectOptions["method"], url, body);
      assert.equal(reply.status, 400, `${url} ${JSON.stringify(body)}`);
      assert.match(reply.message, reason);
    }
  });
});

describe("serving: plausible events", () => {
  test("timestamps must be finite ms from 1990 to a day past the server's clock, values 0 to 1e6", async () => {
    const now = Date.now();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ timestamp: 1e300 }, /timestamp 1e\+300 is more than 24 h ahead/],
      [{ timestamp: now + 2 * 24 * 3600 * 1000 }, /is more than 24 h ahead of the server's clock/],
      [{ timestamp: 1_700_000_000 }, /timestamp must be >= 631152000000/],
      [{ timestamp: -1 }, /timestamp must be >=/],
      [{ value: -1 }, /value must be >= 0/],
      [{ value: 1e12 }, /value must be <= 1000000/],
    ];
    for (const [fields, reason] of cases) {
      const reply = await call("POST", "/v1/events", event(fields));
      assert.equal(reply.status, 400, JSON.stringify(fields));
      assert.match(reply.message, reason);
    }
    // JSON has no NaN or Infinity; a number too large for a double parses as Infinity and is refused too.
    const overflow = await call(
      "POST",
      "/v1/events",
      '{"events":[{"user":"u1","item":"i1","type":"c","value":1e400}]}',
    );
    assert.equal(overflow.status, 400);
    const stored = server.store.count();
    const ok = await call("POST", "/v1/events", event({ timestamp: now + 3600 * 1000, value: 4.5 }));
    assert.equal(ok.status, 200);
    assert.equal(server.store.count(), stored + 1, "a plausible event is stored");
  });

  test("a refused event refuses its whole batch: nothing of it is stored", async () => {
    const stored = server.store.count();
    const batch = {
      events: [
        { user: "u2", item: "i2", type: "click" },
        { user: "u2", item: "i3", type: "click", timestamp: 1e300 },
      ],
    };
    const reply = await call("POST", "/v1/events", batch);
    assert.equal(reply.status, 400);
    assert.match(reply.message, /events\/1\/timestamp/);
    assert.equal(server.store.count(), stored);
  });
});

describe("serving: no paths in answers", () => {
  test("a refused swap names the file but neither the working directory nor an absolute path", async () => {
    const empty = join(root, "empty-artefact");
    mkdirSync(empty);
    for (const dir of [empty, "no/such/dir", join(root, "missing")]) {
      const reply = await call("PUT", "/v1/models/current", { dir });
      assert.equal(reply.status, 422, dir);
      assert.ok(!reply.message.includes(process.cwd()), reply.message);
      assert.ok(!reply.message.includes(root), reply.message);
      assert.doesNotMatch(reply.message, /(^|[\s'"(])\/\w/, `an absolute path in: ${reply.message}`);
    }
    const named = await call("PUT", "/v1/models/current", { dir: empty });
    assert.match(named.message, /empty-artefact\/manifest\.json/);
  });
});
