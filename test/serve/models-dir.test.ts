// Hot swaps take artefacts only from the models directory, and no answer shows a server path: GET
// /v1/models names artefacts relative to it; a path outside it, with '..', or through a symbolic link
// leading out is refused with a 403 that states the rule; a refused artefact's 422 names it relatively.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { TwoTower } from "../../src/models/index.js";
import { saveServingArtefact, saveServingModel, servingContext } from "../helpers/serving.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-models-dir-"));
const TOKEN = "models-token";
const models = join(root, "models");
mkdirSync(join(models, "team"), { recursive: true });
const start = join(root, "start");
const versionStart = saveServingModel(start, 1);
const versionB = saveServingModel(join(models, "team", "b"), 2);
// Outside the models directory, and reachable from inside it only through a symbolic link.
const outside = join(root, "outside");
const versionOutside = saveServingModel(outside, 3);
symlinkSync(outside, join(models, "escape"));
// A link that stays inside is followed.
symlinkSync(join(models, "team", "b"), join(models, "b-link"));
cpSync(join(models, "team", "b"), join(models, "broken"), { recursive: true });
writeFileSync(join(models, "broken", "weights.bin"), "not weights");
// Checksums valid, one weight NaN: refused at load, so a swap to it is the client's 422, not a 500.
const poisoned = new TwoTower({ dim: 8, maxHistory: 10, seed: 4, initStd: 0.5 }, servingContext());
poisoned.parameters()[0]!.data[5] = NaN;
saveServingArtefact(join(models, "poisoned"), poisoned);

let server: RunningServer;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

const swap = (dir: string) => call("PUT", "/v1/models/current", { dir });

before(async () => {
  server = await startServer({ model: start, modelsDir: models, stateDir: join(root, "state"), port: 0, token: TOKEN });
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

describe("the models directory", () => {
  test("GET /v1/models names artefacts relative to it, and null outside it", async () => {
    const before = await call("GET", "/v1/models");
    assert.equal(before.status, 200);
    assert.equal((JSON.parse(before.text) as { current: { name: unknown } }).current.name, null);
    assert.ok(!before.text.includes(root), before.text);

    assert.equal((await swap("team/b")).status, 200);
    const afterSwap = await call("GET", "/v1/models");
    const body = JSON.parse(afterSwap.text) as { current: { version: string; name: string }; previous: string };
    assert.equal(body.current.version, versionB);
    assert.equal(body.current.name, "team/b");
    assert.equal(body.previous, versionStart);
    assert.ok(!afterSwap.text.includes(root), afterSwap.text);
  });

  test("paths outside it, '..' and symbolic links leading out are refused with the rule, no server path", async () => {
    for (const dir of [outside, "../outside", "team/../../outside", "team/../b-link", "escape", "/etc"]) {
      const refused = await swap(dir);
      assert.equal(refused.status, 403, `${dir}: ${refused.text}`);
      const { message } = JSON.parse(refused.text) as { message: string };
      assert.match(message, /inside the models directory/);
      assert.ok(!message.includes(root) && !message.includes(models), message);
    }
    assert.notEqual(server.registry.current.model.version, versionOutside);
    assert.equal(server.registry.current.model.version, versionB);
  });

  test("an absolute path inside it and a link that stays inside are accepted", async () => {
    assert.equal((await call("POST", "/v1/models/rollback")).status, 200);
    assert.equal((await swap(join(models, "team", "b"))).status, 200);
    assert.equal(server.registry.current.model.version, versionB);
    assert.equal((await call("POST", "/v1/models/rollback")).status, 200);
    assert.equal((await swap("b-link")).status, 200);
    assert.equal(server.registry.current.model.version, versionB);
  });

  test("a refused or missing artefact's 422 names it relative to the models directory", async () => {
    const broken = await swap("broken");
    assert.equal(broken.status, 422);
    assert.match(broken.text, /broken\/weights\.bin: corrupted: sha256 mismatch/);
    const serving = server.registry.current.model.version;
    const poisoned = await swap("poisoned");
    assert.equal(poisoned.status, 422);
    assert.match(poisoned.text, /poisoned\/weights\.bin: non-finite weight: parameter .* holds NaN at index 5/);
    assert.equal(server.registry.current.model.version, serving, "the serving model is kept");
    const missing = await swap("team/missing");
    assert.equal(missing.status, 422);
    assert.match(missing.text, /team\/missing: /);
    for (const reply of [broken, poisoned, missing]) assert.ok(!reply.text.includes(root), reply.text);
  });
});
