// Property-based fuzzing of every route: 1000 generated requests a route — plausible, of the wrong types,
// malformed, oversized or not even JSON — and not one 5xx, not one crash, every refusal a JSON reason.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { MAX_ID_LENGTH } from "../../src/serve/schemas.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { saveServingModel } from "../helpers/serving.js";

const RUNS = 1000;
/**
 * fast-check's seed: the same requests in every run, so a route whose random draws happen to include no valid
 * request (it happened: 0 of 1,000 on POST /v1/events) cannot fail one CI run and pass the next; change it to explore.
 */
const SEED = 20261208;
const root = mkdtempSync(join(tmpdir(), "distillrec-fuzz-"));
const TOKEN = "fuzz-token";
const model = join(root, "model");
let server: RunningServer;

before(async () => {
  saveServingModel(model, 1);
  // No load shedding: back-to-back injections never let the event loop turn, which its delay monitor
  // reads as a blocked loop. Shedding is tested on its own (limits.test.ts).
  server = await startServer({
    model,
    stateDir: join(root, "state"),
    port: 0,
    token: TOKEN,
    limits: { shedding: false },
  });
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

// Characters: mostly plain, some of any plane, lone surrogates, and those that mean something in URLs and filters.
const unit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(..."abcuix019_-.") },
  { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom("/", "%", "?", "#", ",", ":", "&", "=", "\u0000", " ", "\\", "..") },
);
const text = fc.string({ unit, maxLength: 16 });
const id = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("u1", "u2", "u29", "i1", "i7", "i39", "stranger") },
  { weight: 3, arbitrary: text },
  // Around the one id limit.
  { weight: 1, arbitrary: fc.integer({ min: MAX_ID_LENGTH - 2, max: MAX_ID_LENGTH + 2 }).map((n) => "y".repeat(n)) },
);
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1e300, Number.MAX_SAFE_INTEGER, Date.now(), 1_700_000_000_000),
);
const anything: fc.Arbitrary<unknown> = fc.oneof(
  id,
  number,
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
);
/** Mostly of the field's type, sometimes anything at all. */
const field = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 5, arbitrary }, { weight: 1, arbitrary: anything });
/** An object of these fields, now and then missing some or carrying an unknown one. */
function object(fields: Record<string, fc.Arbitrary<unknown>>, required: string[]): fc.Arbitrary<unknown> {
  const complete = fc.record(fields, { requiredKeys: required });
  const partial = fc.record(fields, { requiredKeys: [] });
  return fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: complete }, { weight: 1, arbitrary: partial }),
      fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: text }),
    )
    .map(([o, extra]) => (extra === null ? o : { ...o, [extra]: 1 }));
}

/** A request body as sent: JSON of a generated value, or text that is not quite JSON. */
const payload = (body: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 8, arbitrary: field(body).map((b) => JSON.stringify(b) ?? "") },
    {
      weight: 1,
      arbitrary: fc.constantFrom("", "{", "[]", "null", '{"events":[{"value":1e400}]}', "\u0000", '{"__proto__":{}}'),
    },
    { weight: 1, arbitrary: field(body).map((b) => (JSON.stringify(b) ?? "").slice(0, -1)) },
  );

/** Percent-encoded text, or raw escapes that are not valid UTF-8, or none. */
const urlText = fc.oneof(
  { weight: 6, arbitrary: id.map((s) => encodeURIComponent(s.replace(/\p{Surrogate}/gu, "?"))) },
  { weight: 1, arbitrary: fc.constantFrom("%", "%FF", "%ED%A0%80", "%2F", "..", "%00", "a%2Cb", "") },
);
const queryValue = fc.oneof(
  urlText,
  fc.constantFrom(
    "Infinity",
    "-Infinity",
    "NaN",
    "1e3",
    "0x10",
    "1.5",
    " 5",
    "true",
    "category:c1",
    "colour:red",
    "c1:",
  ),
  number.map(String),
);
const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom("k", "excludeSeen", "filter", "exclude"), urlText), queryValue), {
    maxLength: 4,
  })
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}` : ""));
const token = fc.oneof(
  { weight: 9, arbitrary: fc.constant(TOKEN) },
  { weight: 1, arbitrary: fc.constantFrom("", "nope") },
);
const contentType = fc.oneof(
  { weight: 9, arbitrary: fc.constant("application/json") },
  { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/json; charset=latin1", "multipart/form-data") },
);

const event = object(
  {
    user: field(id),
    item: field(id),
    type: field(fc.constantFrom("click", "purchase", "")),
    value: field(fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), number)),
    timestamp: field(fc.oneof(fc.integer({ min: Date.now() - 1e10, max: Date.now() + 1e7 }), number)),
  },
  ["user", "item", "type"],
);
const features = fc.dictionary(
  fc.oneof(fc.constantFrom("category", "price"), text),
  fc.oneof(fc.constantFrom(...["c0", "c1", "c9"]), number, fc.array(text, { maxLength: 3 }), anything),
  { maxKeys: 3 },
);

type Request = InjectOptions & { url: string };
const routes: [string, fc.Arbitrary<Request>][] = [
  ...["/healthz", "/readyz", "/metrics", "/v1/models"].map(
    (path) => [`GET ${path}`, query.map((q) => ({ method: "GET", url: path + q }))] as [string, fc.Arbitrary<Request>],
  ),
  [
    "GET /v1/recommend/:userId",
    fc.tuple(urlText, query).map(([user, q]) => ({ method: "GET", url: `/v1/recommend/${user}${q}` })),
  ],
  [
    "GET /v1/similar/:itemId",
    fc.tuple(urlText, query).map(([item, q]) => ({ method: "GET", url: `/v1/similar/${item}${q}` })),
  ],
  [
    "POST /v1/rank",
    body(
      "POST",
      "/v1/rank",
      object({ user: field(id), items: field(fc.array(field(id), { maxLength: 8 })) }, ["user", "items"]),
    ),
  ],
  [
    "POST /v1/events",
    body("POST", "/v1/events", object({ events: field(fc.array(event, { maxLength: 4 })) }, ["events"])),
  ],
  [
    "PUT /v1/items",
    body(
      "PUT",
      "/v1/items",
      object(
        { items: field(fc.array(object({ id: field(id), features: field(features) }, ["id"]), { maxLength: 3 })) },
        ["items"],
      ),
    ),
  ],
  [
    "PUT /v1/models/current",
    body(
      "PUT",
      "/v1/models/current",
      object({ dir: field(fc.oneof(fc.constant(model), fc.constant(root), text)) }, ["dir"]),
    ),
  ],
  ["POST /v1/models/rollback", body("POST", "/v1/models/rollback", fc.option(anything))],
];

function body(method: "POST" | "PUT", url: string, value: fc.Arbitrary<unknown>): fc.Arbitrary<Request> {
  return fc.tuple(payload(value), token, contentType).map(([text, bearer, type]) => ({
    method,
    url,
    payload: text,
    headers: { "content-type": type, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
  }));
}

describe("serving: fuzzing every route's schema", () => {
  for (const [name, requests] of routes) {
    test(`${name}: ${RUNS} generated requests, no 5xx, every refusal a JSON reason`, async () => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requests, async (request) => {
          const reply = await server.app.inject(request);
          statuses.set(reply.statusCode, (statuses.get(reply.statusCode) ?? 0) + 1);
          assert.ok(reply.statusCode < 500, `${reply.statusCode} ${reply.body}`);
          if (reply.statusCode >= 400) assert.equal(typeof reply.json<{ message?: unknown }>().message, "string");
        }),
        { numRuns: RUNS, seed: SEED },
      );
      // The generators reach past validation, not only into refusals.
      assert.ok((statuses.get(200) ?? 0) > 0, `no request succeeded: ${JSON.stringify([...statuses])}`);
    });
  }

  test("the server still answers after all of it", async () => {
    assert.equal((await server.app.inject({ url: "/healthz" })).statusCode, 200);
    assert.equal((await server.app.inject({ url: "/v1/recommend/u1?k=3" })).statusCode, 200);
  });
});
