// The OpenAPI document: every route the server answers is in it, with its request schemas (params, query,
// body) and its response schemas; the docs page and its Swagger UI files are served, nothing else of the package.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-openapi-"));
const model = join(root, "model");
saveServingModel(model, 1);
let server: RunningServer;

interface Operation {
  parameters?: { in: string; name: string; schema: object }[];
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
  security?: object[];
}
let paths: Record<string, Record<string, Operation>>;

/** Every route Fastify registered, as [METHOD, path], read from its route tree (children print relative). */
function routes(): [string, string][] {
  const found: [string, string][] = [];
  const stack: string[] = [];
  for (const line of server.app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join("");
    for (const method of match[3]?.split(", ") ?? []) found.push([method, path]);
  }
  return found;
}

before(async () => {
  // Not about load: on a machine busy with other work these requests must not be shed.
  server = await startServer({
    model,
    stateDir: join(root, "state"),
    port: 0,
    token: "t",
    limits: { shedding: false },
  });
  const response = await fetch(`${server.url}/openapi.json`);
  assert.equal(response.status, 200);
  const doc = (await response.json()) as { openapi: string; paths: typeof paths };
  assert.match(doc.openapi, /^3\./);
  paths = doc.paths;
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const API = [
  ["get", "/healthz"],
  ["get", "/readyz"],
  ["get", "/metrics"],
  ["get", "/v1/recommend/{userId}"],
  ["post", "/v1/rank"],
  ["get", "/v1/similar/{itemId}"],
  ["post", "/v1/events"],
  ["put", "/v1/items"],
  ["get", "/v1/models"],
  ["put", "/v1/models/current"],
  ["post", "/v1/models/rollback"],
  ["get", "/dashboard/api/session"],
  ["get", "/dashboard/api/status"],
  ["get", "/dashboard/api/users/{userId}"],
  ["get", "/dashboard/report"],
] as const;

test("openapi: every API route is in the document with a 200 response schema and the error shape", () => {
  for (const [method, path] of API) {
    const op = paths[path]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${path} is in the document`);
    const ok = op.responses["200"]?.content;
    assert.ok(ok && Object.values(ok).every((c) => c.schema), `${method} ${path}: a 200 response schema`);
    assert.ok(op.responses["4XX"]?.content?.["application/json"]?.schema, `${method} ${path}: a 4xx schema`);
  }
});

test("openapi: the document covers every route the server registered (but the page files)", () => {
  // The page files: /docs and its Swagger UI files, /dashboard and its assets (static wildcards), the document.
  const page = /^\/(docs($|\/|\*)|dashboard($|\*|\/(assets|vendor)\/)|openapi\.json$)/;
  const documented = new Set(API.map(([method, path]) => `${method.toUpperCase()} ${path}`));
  const all = routes();
  assert.ok(all.length > API.length, "the route tree was read");
  for (const [method, path] of all) {
    if (method === "HEAD" || page.test(path)) continue;
    const named = path.replace(/:(\w+)/g, "{$1}");
    assert.ok(documented.has(`${method} ${named}`), `${method} ${path} is documented`);
  }
});

test("openapi: request schemas — parameters, query strings and bodies — are the routes' own", () => {
  const recommend = paths["/v1/recommend/{userId}"]!.get!;
  const names = recommend.parameters!.map((p) => `${p.in}:${p.name}`).sort();
  assert.deepEqual(names, ["path:userId", "query:exclude", "query:excludeSeen", "query:filter", "query:k"]);
  const events = paths["/v1/events"]!.post!;
  const body = events.requestBody!.content["application/json"]!.schema as { required: string[] };
  assert.deepEqual(body.required, ["events"]);
  assert.ok(events.security, "writes declare the bearer token");
  const swap = paths["/v1/models/current"]!.put!.requestBody!.content["application/json"]!.schema as {
    properties: object;
  };
  assert.deepEqual(Object.keys(swap.properties), ["dir"]);
  assert.ok(paths["/v1/rank"]!.post!.requestBody, "rank has a body schema");
  const metrics = paths["/metrics"]!.get!.responses["200"]!.content!;
  assert.deepEqual(Object.keys(metrics), ["text/plain"]);
});

test("openapi: the response schemas do not drop what the routes answer", async () => {
  const recommended = (await (await fetch(`${server.url}/v1/recommend/u1?k=3`)).json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(recommended).sort(), ["items", "model", "user"]);
  const models = (await (await fetch(`${server.url}/v1/models`)).json()) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(models.current!).sort(), ["kind", "loadedAt", "name", "version"]);
  assert.equal(models.previous, null);
  const metrics = await fetch(`${server.url}/metrics`);
  assert.match(await metrics.text(), /^# HELP/);
});

test("docs: the page and the Swagger UI files it loads are served; the package's other files are not", async () => {
  const page = await fetch(`${server.url}/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  const html = await page.text();
  for (const src of html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)) {
    assert.equal((await fetch(`${server.url}${src[1]}`)).status, 200, src[1]);
  }
  assert.equal((await fetch(`${server.url}/docs/ui/index.html`)).status, 404);
  assert.equal((await fetch(`${server.url}/docs/ui/package.json`)).status, 404);
  assert.equal((await fetch(`${server.url}/docs/ui/../../package.json`)).status, 404);
});
