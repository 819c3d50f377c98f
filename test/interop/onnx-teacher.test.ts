import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GraphBuilder } from "../../src/interop/onnx-graph.js";
import { loadOnnxTeacher, OnnxTeacherError, type OnnxTeacherSpec } from "../../src/interop/onnx-teacher.js";
import { BPRMF } from "../../src/models/bpr-mf.js";
import { loadData, prepareData, type PreparedData } from "../../src/run/data.js";
import { validatePipelineConfig } from "../../src/run/config.js";
import { runPipeline } from "../../src/run/pipeline.js";
import { silent } from "../../src/run/log.js";

const dir = mkdtempSync(join(tmpdir(), "drec-onnx-teacher-"));
let prepared: PreparedData;
let native: BPRMF;
const HISTORY_WEIGHT = 0.001;

/**
 * A "foreign" pair scorer over its own id space (model index = data index reversed), as another engine
 * would export it: score = ⟨user row, item row⟩ (+ a small term of the history ids when it has that input).
 */
function foreignModel(withHistory: boolean, names = { user: "user_ids", item: "item_ids", out: "score" }): Uint8Array {
  const { numUsers, numItems } = prepared.context;
  const dim = native.dim;
  const users = native.userEmbedding.weight.data;
  const items = native.itemEmbedding.weight.data;
  const reversed = (table: Float32Array, rows: number) => {
    const out = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) out.set(table.subarray(r * dim, (r + 1) * dim), (rows - 1 - r) * dim);
    return out;
  };
  const g = new GraphBuilder();
  const u = g.node("Gather", [g.table("users", reversed(users, numUsers), numUsers, dim), names.user], { axis: 0 });
  const i = g.node("Gather", [g.table("items", reversed(items, numItems), numItems, dim), names.item], { axis: 0 });
  const axis = g.int64s("axis", [1]);
  let score = g.node("ReduceSum", [g.node("Mul", [u, i]), axis], { keepdims: 0 }, withHistory ? "dot" : names.out);
  if (withHistory) {
    const h = g.node("ReduceSum", [g.node("Cast", ["history"], { to: 1 }), axis], { keepdims: 0 });
    score = g.node("Add", [score, g.node("Mul", [h, g.scalar("w", HISTORY_WEIGHT)])], {}, names.out);
  }
  const inputs = [
    { name: names.user, type: "int64" as const, shape: ["n"], doc: "" },
    { name: names.item, type: "int64" as const, shape: ["n"], doc: "" },
    ...(withHistory ? [{ name: "history", type: "int64" as const, shape: ["n", "h"], doc: "" }] : []),
  ];
  return g.encode({
    name: "foreign",
    doc: "",
    inputs,
    outputs: [{ name: score, type: "float32", shape: ["n"], doc: "" }],
  });
}

function writeIdMap(path: string, dropUsers = 0): void {
  const { users, items } = prepared.dataset;
  // A vocabulary: position k holds the data id of model index k (reversed), as a peer's export writes it.
  const vocab = (map: typeof users) => Array.from({ length: map.size }, (_, k) => map.external(map.size - 1 - k));
  const userVocab = vocab(users).map((id, k) => (k < dropUsers ? `gone-${k}` : id));
  writeFileSync(path, JSON.stringify({ users: userVocab, items: vocab(items) }));
}

function spec(file: string, extra: Partial<OnnxTeacherSpec> = {}): OnnxTeacherSpec {
  return {
    file,
    inputs: { user: "user_ids", item: "item_ids" },
    output: "score",
    idMap: join(dir, "ids.json"),
    batchSize: 3000,
    ...extra,
  };
}

before(async () => {
  prepared = prepareData(await loadData({ kind: "synthetic", synthetic: { users: 120, items: 60, events: 3000 } }, 1));
  native = new BPRMF({ dim: 8, seed: 3, initStd: 0.5 }, prepared.context);
  writeFileSync(join(dir, "foreign.onnx"), foreignModel(false));
  writeFileSync(join(dir, "foreign-history.onnx"), foreignModel(true));
  writeIdMap(join(dir, "ids.json"));
  writeIdMap(join(dir, "ids-short.json"), 3);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const data = () => ({ context: prepared.context, users: prepared.dataset.users, items: prepared.dataset.items });

describe("ONNX teacher", () => {
  test("scores every (user, item) through the id map, in batches, as the native model does", async () => {
    const teacher = await loadOnnxTeacher(spec(join(dir, "foreign.onnx")), data());
    const scorer = native.scorer();
    const table = teacher.scorer();
    for (let u = 0; u < prepared.context.numUsers; u++) {
      const want = scorer.scoreAll({ user: u });
      const got = table.scoreAll({ user: u });
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5, `user ${u} item ${i}`);
    }
    const cand = table.scoreCandidates({ user: 4 }, new Int32Array([3, 0]));
    assert.deepEqual(Array.from(cand), [table.scoreAll({ user: 4 })[3], table.scoreAll({ user: 4 })[0]]);
  });

  test("a history input gets each user's recent items in the model's ids, left-padded", async () => {
    const length = 4;
    const pad = 0;
    const teacher = await loadOnnxTeacher(
      spec(join(dir, "foreign-history.onnx"), {
        inputs: { user: "user_ids", item: "item_ids", history: "history" },
        historyLength: length,
        historyPad: pad,
      }),
      data(),
    );
    const { histories, numItems } = prepared.context;
    const scorer = native.scorer();
    for (const u of [0, 7, 50]) {
      const end = histories!.offsets[u + 1]!;
      const recent = histories!.items.subarray(Math.max(histories!.offsets[u]!, end - length), end);
      const sum = Array.from(recent).reduce((s, item) => s + (numItems - 1 - item), 0) + pad * (length - recent.length);
      const want = scorer.scoreAll({ user: u });
      const got = teacher.scorer().scoreAll({ user: u });
      for (let i = 0; i < numItems; i++) assert.ok(Math.abs(got[i]! - want[i]! - HISTORY_WEIGHT * sum) <= 1e-4);
    }
  });

  test("inputs or outputs that do not match the config are named, with what the file has", async () => {
    await assert.rejects(
      loadOnnxTeacher(spec(join(dir, "foreign.onnx"), { inputs: { user: "uid", item: "item_ids" } }), data()),
      (e: unknown) =>
        e instanceof OnnxTeacherError &&
        /it has inputs user_ids, item_ids; no input named uid; input user_ids is not fed by the config/.test(e.message),
    );
    await assert.rejects(
      loadOnnxTeacher(spec(join(dir, "foreign.onnx"), { output: "logits" }), data()),
      /has no output "logits": it has outputs score/,
    );
  });

  test("an id map that does not cover the data says how many ids are missing", async () => {
    await assert.rejects(
      loadOnnxTeacher(spec(join(dir, "foreign.onnx"), { idMap: join(dir, "ids-short.json") }), data()),
      (e: unknown) => e instanceof OnnxTeacherError && /3 of 120 users are missing \(e\.g\. "/.test(e.message),
    );
  });

  test("a pipeline distils from it with list, ranking and pointwise methods and a chain, and measures fidelity to it", async () => {
    const config = validatePipelineConfig({
      name: "onnx-teacher",
      threads: 1,
      data: { kind: "synthetic", synthetic: { users: 120, items: 60, events: 3000 } },
      evaluation: { negatives: 30, validationNegatives: 20 },
      teachers: [{ name: "foreign", onnx: spec(join(dir, "foreign.onnx")) }],
      student: { model: { kind: "bpr-mf", dim: 4, seed: 2 }, train: { epochs: 1 } },
      distillation: {
        methods: [
          { name: "ranking", weights: { hard: 1, ranking: 0.5 } },
          { name: "listwise", weights: { hard: 1, listwise: 1 } },
          { name: "pointwise", weights: { hard: 1, pointwise: 1 } },
        ],
        softLabels: { negatives: 10, topK: 5 },
        // A chain too: foreign teacher → assistant → student.
        assistant: { model: { kind: "bpr-mf", dim: 6, seed: 5 }, train: { epochs: 1 } },
      },
      output: { dir: join(dir, "run") },
    });
    assert.equal(config.teachers[0]!.model.kind, "score-table");
    const summary = await runPipeline(config, { log: silent });
    assert.deepEqual(
      summary.models.map((m) => [m.name, m.role]),
      [
        ["foreign", "teacher"],
        ["student-ranking", "distilled"],
        ["student-listwise", "distilled"],
        ["student-pointwise", "distilled"],
        ["assistant", "assistant"],
        ["student-ranking-via-assistant", "distilled"],
      ],
    );
    for (const m of summary.models.slice(1)) assert.ok(Number.isFinite(m.metrics["fidelity:overlap@10"]));
  });

  test("a config teacher needs a model or an onnx file, not both", () => {
    const base = {
      name: "x",
      data: { kind: "synthetic" },
      student: { model: { kind: "bpr-mf", dim: 4 } },
      distillation: { methods: [{ name: "plain", weights: { hard: 1 } }] },
    };
    assert.throws(() => validatePipelineConfig({ ...base, teachers: [{ name: "t" }] }), /teachers\/0/);
    assert.throws(
      () =>
        validatePipelineConfig({
          ...base,
          teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 4 }, onnx: spec("f.onnx") }],
        }),
      /teachers\/0/,
    );
  });
});
