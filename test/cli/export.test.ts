import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { IdMap } from "../../src/data/idmap.js";
import { loadArtefact, saveArtefact } from "../../src/models/artefact.js";
import { createModel } from "../../src/models/index.js";
import { exportModel } from "../../src/cli/commands/export.js";
import { UsageError } from "../../src/cli/commands/common.js";
import { tinyContext } from "../helpers/models.js";

const users = IdMap.fromJSON(["a", "b", "c", "d", "e"]);
const items = IdMap.fromJSON(["p", "q", "r", "s", "t", "v", "w"]);

describe("distillrec export --format onnx", () => {
  test("an int8-stored two-tower artefact exports to files whose scores equal the loaded artefact's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drec-export-"));
    try {
      const model = createModel({ kind: "two-tower", dim: 8, maxHistory: 3, seed: 2 }, tinyContext());
      const storage = new Map([["item.weight", { dtype: "i8" as const }]]);
      saveArtefact(join(dir, "student"), { model, users, items, storage });
      const written = exportModel({
        model: join(dir, "student"),
        format: "onnx",
        out: join(dir, "out", "s.onnx"),
        precision: "f32",
      });
      assert.deepEqual(
        written.map((w) => w.file.slice(dir.length + 1)),
        ["out/s.onnx", "out/s.user.onnx", "out/s.items.onnx", "out/s.ids.json"],
      );
      const ids = JSON.parse(readFileSync(join(dir, "out", "s.ids.json"), "utf8")) as {
        users: string[];
        histories: number[][];
      };
      assert.deepEqual(ids.users, users.toJSON());
      const loaded = loadArtefact(join(dir, "student")).model;
      const session = await ort.InferenceSession.create(join(dir, "out", "s.onnx"));
      const scorer = loaded.scorer();
      for (let u = 0; u < 5; u++) {
        const h = ids.histories[u]!;
        const out = await session.run({
          user: new ort.Tensor("int64", new BigInt64Array([BigInt(u)]), [1]),
          history: new ort.Tensor("int64", BigInt64Array.from(h.length ? h : [-1], BigInt), [1, Math.max(1, h.length)]),
        });
        const expected = scorer.scoreAll({ user: u });
        const got = out.scores!.data as Float32Array;
        for (let i = 0; i < 7; i++) assert.ok(Math.abs(got[i]! - expected[i]!) <= 1e-5, `user ${u} item ${i}`);
      }
      scorer.dispose?.();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a sasrec artefact exports to graphs that take the history alone and score as the loaded artefact", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drec-export-"));
    try {
      const model = createModel(
        { kind: "sasrec", dim: 8, blocks: 2, heads: 2, maxLength: 3, activation: "gelu", seed: 2 },
        tinyContext(),
      );
      saveArtefact(join(dir, "student"), { model, users, items });
      exportModel({ model: join(dir, "student"), format: "onnx", out: join(dir, "seq.onnx"), precision: "f32" });
      const ids = JSON.parse(readFileSync(join(dir, "seq.ids.json"), "utf8")) as {
        kind: string;
        maxHistory: number;
        histories: number[][];
      };
      assert.equal(ids.kind, "sasrec");
      assert.equal(ids.maxHistory, 3);
      const loaded = loadArtefact(join(dir, "student")).model;
      const session = await ort.InferenceSession.create(join(dir, "seq.onnx"));
      assert.deepEqual(session.inputNames, ["history"]);
      const scorer = loaded.scorer();
      for (let u = 0; u < 5; u++) {
        const h = ids.histories[u]!;
        const out = await session.run({
          history: new ort.Tensor("int64", BigInt64Array.from(h, BigInt), [1, h.length]),
        });
        const expected = scorer.scoreAll({ user: u });
        const got = out.scores!.data as Float32Array;
        for (let i = 0; i < 7; i++) assert.ok(Math.abs(got[i]! - expected[i]!) <= 1e-5, `user ${u} item ${i}`);
      }
      scorer.dispose?.();
      // The web form has no sequence encoder: a usage error says so.
      assert.throws(
        () => exportModel({ model: join(dir, "student"), format: "web", out: join(dir, "web"), precision: "f32" }),
        (e: unknown) => e instanceof UsageError && /"sasrec" is a sequence model/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a teacher kind is refused with a usage error naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "drec-export-"));
    try {
      const model = createModel({ kind: "neumf", gmfDim: 4, mlpSizes: [8, 4] }, tinyContext());
      saveArtefact(join(dir, "t"), { model, users, items });
      assert.throws(
        () => exportModel({ model: join(dir, "t"), format: "onnx", out: join(dir, "t.onnx"), precision: "f32" }),
        (e: unknown) => e instanceof UsageError && /"neumf" is not one/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--format web writes model.json and tables.bin into the directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "drec-export-"));
    try {
      const model = createModel({ kind: "bpr-mf", dim: 4, seed: 2 }, tinyContext());
      saveArtefact(join(dir, "s"), { model, users, items });
      const written = exportModel({ model: join(dir, "s"), format: "web", out: join(dir, "web"), precision: "f32" });
      assert.deepEqual(
        written.map((w) => w.file.slice(dir.length + 1)),
        ["web/model.json", "web/tables.bin"],
      );
      const manifest = JSON.parse(readFileSync(join(dir, "web", "model.json"), "utf8")) as {
        bytes: number;
        items: string[];
      };
      assert.equal(manifest.bytes, readFileSync(join(dir, "web", "tables.bin")).length);
      assert.deepEqual(manifest.items, items.toJSON());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
