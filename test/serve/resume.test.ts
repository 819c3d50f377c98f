// A restart resumes the version of the last acknowledged swap or rollback, skips it with a warning when
// it no longer verifies, and starts afresh when the server is started with a new artefact; a swap that
// cannot be recorded is not made.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { saveServingModel } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-resume-"));
after(() => rmSync(root, { recursive: true, force: true }));
const TOKEN = "resume-token";
const models = join(root, "models");
mkdirSync(models);
const versions = {
  a: saveServingModel(join(models, "a"), 1),
  b: saveServingModel(join(models, "b"), 2),
  c: saveServingModel(join(models, "c"), 3),
};

function start(model: string, warnings: string[] = []): Promise<RunningServer> {
  return startServer({
    model: join(models, model),
    stateDir: join(root, "state"),
    port: 0,
    token: TOKEN,
    logger: pino({ level: "warn", base: undefined }, { write: (line: string) => void warnings.push(line) }),
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

test("restarts resume the acknowledged version, skip a damaged one, and a new --model starts afresh", async () => {
  let server = await start("a");
  assert.equal(await call(server, "PUT", "/v1/models/current", { dir: "b" }), 200);
  assert.equal(await call(server, "PUT", "/v1/models/current", { dir: "c" }), 200);
  assert.equal(await call(server, "POST", "/v1/models/rollback"), 200);
  await server.close();

  server = await start("a");
  assert.equal(server.registry.current.model.version, versions.b, "the rollback to b was acknowledged last");
  await server.close();

  writeFileSync(join(models, "b", "weights.bin"), "damaged");
  const warnings: string[] = [];
  server = await start("a", warnings);
  assert.equal(server.registry.current.model.version, versions.a);
  assert.ok(
    warnings.some((line) => line.includes(join(models, "b")) && /sha256 mismatch/.test(line)),
    warnings.join(""),
  );
  assert.equal(await call(server, "PUT", "/v1/models/current", { dir: "c" }), 200);
  await server.close();

  // Started with b, not a: the swap to c, recorded while started with a, is not resumed.
  saveServingModel(join(models, "b"), 2);
  server = await start("b");
  try {
    assert.equal(server.registry.current.model.version, versions.b);
  } finally {
    await server.close();
  }
});

test("a swap that cannot be recorded is refused and the current version keeps serving", async () => {
  const stateDir = join(root, "state-unrecordable");
  // A directory where the record goes: renaming the record over it fails.
  mkdirSync(join(stateDir, "serving.json", "occupied"), { recursive: true });
  const server = await startServer({ model: join(models, "a"), stateDir, port: 0, token: TOKEN });
  try {
    const response = await fetch(`${server.url}/v1/models/current`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ dir: "c" }),
    });
    const text = await response.text();
    assert.equal(response.status, 500);
    assert.ok(!text.includes(root), text);
    assert.equal(server.registry.current.model.version, versions.a);
    assert.equal(server.registry.previousVersion, undefined);
  } finally {
    await server.close();
  }
});
