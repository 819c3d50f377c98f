import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IdMap } from "../../src/data/idmap.js";
import {
  ArtefactError,
  decodeContext,
  encodeContext,
  loadArtefact,
  readManifest,
  saveArtefact,
} from "../../src/models/artefact.js";
import { createModel, TwoTower, VectorScorer, type ModelContext, type ModelSpec } from "../../src/models/index.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-artefact-"));
after(() => rmSync(root, { recursive: true, force: true }));

const context: ModelContext = {
  numUsers: 5,
  numItems: 7,
  histories: { offsets: new Int32Array([0, 2, 3, 3, 5, 6]), items: new Int32Array([1, 2, 6, 0, 3, 4]) },
  itemFeatures: {
    categorical: [{ name: "category", vocabSize: 4, ids: new Int32Array([1, 2, 3, 1, 2, 3, 0]) }],
    multi: [
      { name: "tags", vocabSize: 3, offsets: new Int32Array([0, 1, 2, 3, 5, 6, 7, 8]), ids: new Int32Array(8).fill(2) },
    ],
    numeric: [{ name: "price", values: new Float32Array([0.5, -1, 0, 2, 1.5, -0.25, 3]) }],
  },
};
const ids = (prefix: string, n: number) => IdMap.fromJSON(Array.from({ length: n }, (_, i) => `${prefix}${i}`));
const users = ids("u", 5);
const items = ids("i", 7);

const model = createModel({ kind: "bpr-mf", dim: 4, seed: 3, initStd: 0.5 }, context);
const reference = saveFresh("reference");

/** A fresh copy of a saved artefact, to break in one way. */
function copy(name: string): string {
  const dir = join(root, name);
  cpSync(reference, dir, { recursive: true });
  return dir;
}

function saveFresh(name: string): string {
  const dir = join(root, name);
  saveArtefact(dir, { model, users, items, metrics: { "ndcg@10": 0.25 }, lineage: { method: "none" } });
  return dir;
}

function refusal(dir: string, pattern: RegExp): void {
  assert.throws(
    () => loadArtefact(dir),
    (err: unknown) => {
      assert.ok(err instanceof ArtefactError, `expected an ArtefactError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("model artefacts", () => {
  test("round trip: same scores, ids, context and manifest facts", () => {
    const loaded = loadArtefact(reference);
    assert.equal(loaded.model.kind, "bpr-mf");
    assert.deepEqual(loaded.users.toJSON(), users.toJSON());
    assert.deepEqual(loaded.items.toJSON(), items.toJSON());
    for (let u = 0; u < 5; u++) {
      assert.deepEqual(loaded.model.scorer().scoreAll({ user: u }), model.scorer().scoreAll({ user: u }));
    }
    const m = loaded.manifest;
    assert.equal(m.format, "distillrec-model");
    assert.equal(m.parameters, (5 + 1) * 4 + 7 * 4);
    assert.equal(m.flopsPerItem, 8);
    assert.deepEqual(m.metrics, { "ndcg@10": 0.25 });
    assert.equal(m.lineage.method, "none");
    assert.match(m.id, /^bpr-mf-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(m.files).sort(), ["context.bin", "ids.json", "metrics.json", "weights.bin"]);
    // BPR-MF reads no history: the artefact keeps none of the training histories, only the users.
    assert.deepEqual(loaded.model.context.histories, { offsets: new Int32Array(6), items: new Int32Array(0) });
    assert.deepEqual(loaded.model.context.itemFeatures, context.itemFeatures);
    assert.equal(loaded.model.context.userFeatures, undefined);
  });

  test("a history-aware model keeps only the recent items it reads, and scores the same", () => {
    const twoTower = new TwoTower({ dim: 8, seed: 4, initStd: 0.5, maxHistory: 1 }, context);
    assert.equal(twoTower.historyLength, 1);
    const dir = join(root, "two-tower-recent");
    saveArtefact(dir, { model: twoTower, users, items });
    const loaded = loadArtefact(dir).model;
    // Users' last items: [1, 2] → 2, [6] → 6, none, [0, 3] → 3, [4] → 4.
    assert.deepEqual(loaded.context.histories, {
      offsets: new Int32Array([0, 1, 2, 2, 3, 4]),
      items: new Int32Array([2, 6, 3, 4]),
    });
    const [served, original] = [loaded.scorer(), twoTower.scorer()];
    for (let u = 0; u < 5; u++) assert.deepEqual(served.scoreAll({ user: u }), original.scoreAll({ user: u }));
  });

  test("a two-tower saved with int8 retrieval is served in int8 after loading, with the same scores", () => {
    const twoTower = new TwoTower({ dim: 8, seed: 4, initStd: 0.5, retrieval: "int8" }, context);
    const dir = join(root, "two-tower-int8");
    saveArtefact(dir, { model: twoTower, users, items });
    const loaded = loadArtefact(dir);
    const spec = loaded.manifest.spec;
    assert.ok(spec.kind === "two-tower");
    assert.equal(spec.retrieval, "int8");
    const served = loaded.model.scorer();
    assert.ok(served instanceof VectorScorer);
    assert.equal(served.retrieval, "int8");
    const original = twoTower.scorer();
    for (let u = 0; u < 5; u++) assert.deepEqual(served.scoreAll({ user: u }), original.scoreAll({ user: u }));
    served.dispose();
    original.dispose();
  });

  const compositional: ModelSpec[] = [
    { kind: "bpr-mf", dim: 4, seed: 5, initStd: 0.5, userTable: { kind: "qr", remainderRows: 2 } },
    {
      kind: "two-tower",
      dim: 4,
      seed: 6,
      initStd: 0.5,
      userTable: { kind: "qr", combine: "add" },
      itemTable: { kind: "hashed", buckets: 5, seed: 3 },
    },
  ];
  for (const spec of compositional) {
    test(`${spec.kind} with compositional id tables round-trips: same parameters and scores`, () => {
      const original = createModel(spec, context);
      // Away from the seeded initialisation, so only loading the weights can reproduce them.
      for (const p of original.parameters()) {
        const data = p.data;
        for (let k = 0; k < data.length; k++) data[k] = data[k]! + Math.sin(k + 1);
      }
      const dir = join(root, `${spec.kind}-compositional`);
      const manifest = saveArtefact(dir, { model: original, users, items });
      assert.equal(manifest.parameters, original.parameterCount());
      const loaded = loadArtefact(dir).model;
      assert.deepEqual(
        loaded.namedParameters().map(([n, t]) => [n, Array.from(t.data)]),
        original.namedParameters().map(([n, t]) => [n, Array.from(t.data)]),
      );
      const [served, reference] = [loaded.scorer(), original.scorer()];
      for (let u = 0; u < 5; u++) assert.deepEqual(served.scoreAll({ user: u }), reference.scoreAll({ user: u }));
    });
  }

  test("saving leaves no temporary directories and replaces an existing artefact", () => {
    const dir = saveFresh("twice");
    const first = readManifest(dir).createdAt;
    saveFresh("twice");
    assert.ok(existsSync(join(dir, "manifest.json")));
    assert.ok(readManifest(dir).createdAt >= first);
    assert.deepEqual(
      readdirSync(root).filter((f) => f.includes(".tmp-") || f.includes(".old-")),
      [],
    );
  });

  test("context files round-trip and refuse a flipped byte", () => {
    const encoded = encodeContext(context);
    assert.deepEqual(decodeContext(encoded), context);
    encoded[encoded.length - 10]! ^= 0xff;
    assert.throws(() => decodeContext(encoded, "ctx"), /ctx: corrupted/);
  });

  test("refuses a missing file, naming it", () => {
    const dir = copy("missing");
    rmSync(join(dir, "context.bin"));
    refusal(dir, /context\.bin: missing file/);
  });

  test("refuses a directory without a manifest", () => {
    const dir = copy("no-manifest");
    rmSync(join(dir, "manifest.json"));
    refusal(dir, /manifest\.json: missing file/);
    refusal(join(root, "does-not-exist"), /not a model artefact directory/);
  });

  test("refuses a flipped byte in weights.bin as corrupted (sha256 mismatch)", () => {
    const dir = copy("flipped");
    const path = join(dir, "weights.bin");
    const bytes = readFileSync(path);
    bytes[bytes.length - 40]! ^= 0x01;
    writeFileSync(path, bytes);
    refusal(dir, /weights\.bin: corrupted: sha256 mismatch/);
  });

  test("refuses a manifest that breaks the schema, with the ajv messages", () => {
    const dir = copy("schema");
    const path = join(dir, "manifest.json");
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    manifest.version = 2;
    delete manifest.kind;
    manifest.parameters = "many";
    writeFileSync(path, JSON.stringify(manifest));
    refusal(dir, /manifest\.json: invalid manifest: .*must have required property 'kind'/);
    refusal(dir, /\/version must be equal to constant/);
    refusal(dir, /\/parameters must be integer/);
  });

  test("refuses ids.json with one id too few (after fixing its checksum)", () => {
    const dir = copy("ids");
    writeFileSync(join(dir, "ids.json"), JSON.stringify({ users: users.toJSON().slice(1), items: items.toJSON() }));
    rehash(dir, "ids.json");
    refusal(dir, /ids\.json: id map size mismatch: 4 user ids for 5 users/);
  });

  test("keeps the feature schemas, so raw features of new rows can be encoded; refuses malformed ones", () => {
    const features = {
      items: {
        categorical: { category: ["[UNK]", "a", "b", "c"] },
        multi: { tags: ["[UNK]", "x", "y"] },
        numeric: { price: { mean: 1.5, std: 0.5 } },
      },
    };
    const dir = join(root, "features");
    saveArtefact(dir, { model, users, items, features });
    assert.deepEqual(loadArtefact(dir).features, features);
    assert.deepEqual(loadArtefact(reference).features, {});
    writeFileSync(
      join(dir, "ids.json"),
      JSON.stringify({ users: users.toJSON(), items: items.toJSON(), features: { items: { categorical: {} } } }),
    );
    rehash(dir, "ids.json");
    refusal(dir, /ids\.json: invalid "features": \/items must have required property 'multi'/);
  });

  test("refuses weights whose shapes do not fit the spec", () => {
    const dir = copy("spec");
    const path = join(dir, "manifest.json");
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    manifest.spec.dim = 5;
    writeFileSync(path, JSON.stringify(manifest));
    refusal(dir, /weights\.bin: parameter mismatch .*shape mismatch for user\.weight/);
  });
});

/** Recompute a file's checksum in the manifest, so a later check is the one that fires. */
function rehash(dir: string, file: string): void {
  const path = join(dir, "manifest.json");
  const manifest = JSON.parse(readFileSync(path, "utf8"));
  const bytes = readFileSync(join(dir, file));
  manifest.files[file] = {
    bytes: bytes.length,
    sha256: createHashHex(bytes),
  };
  writeFileSync(path, JSON.stringify(manifest));
}

function createHashHex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
