import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { IdMap } from "../../src/data/idmap.js";
import { fromFloat16, toFloat16 } from "../../src/engine/codecs/float16.js";
import { dequantizeInt8, quantizeInt8 } from "../../src/engine/codecs/int8.js";
import { unknownUser, type UserQuery } from "../../src/models/index.js";
import { SASRec, type SASRecConfig } from "../../src/models/sasrec.js";
import { exportOnnx, OnnxExportError } from "../../src/interop/onnx-export.js";
import { exportWeb } from "../../src/interop/web-export.js";
import type { OnnxPrecision } from "../../src/interop/onnx-graph.js";
import { codecError } from "../helpers/codecs.js";
import { tinyContext } from "../helpers/models.js";

type Ort = typeof ortNode;
const runtimes: [string, Ort][] = [
  ["onnxruntime-node", ortNode],
  ["onnxruntime-web (wasm)", ortWeb as unknown as Ort],
];
ortWeb.env.wasm.numThreads = 1;

const MAX_LENGTH = 6;

/**
 * A small SASRec over tinyContext (7 items) with every bias, LayerNorm gain and shift moved off its
 * initial value (so an empty history's vector, the final LayerNorm's shift, is not zero).
 */
function sasrec(config: SASRecConfig = {}): SASRec {
  const model = new SASRec(
    { dim: 8, blocks: 2, heads: 2, maxLength: MAX_LENGTH, dropout: 0.2, seed: 5, ...config },
    tinyContext(),
  );
  let state = 12345;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31 - 0.5;
  };
  for (const [name, p] of model.namedParameters()) {
    if (p.shape.length !== 1) continue;
    const gain = /Norm\.weight$/.test(name);
    for (let k = 0; k < p.data.length; k++) p.data[k] = (gain ? 1 : 0) + 0.6 * next();
  }
  model.eval();
  return model;
}

const variants: [string, SASRecConfig][] = [
  ["sasrec (relu, 2 blocks, 2 heads)", {}],
  ["sasrec (gelu, 2 blocks, 2 heads)", { activation: "gelu" }],
  ["sasrec (relu, 1 block, 1 head, ffnDim 12)", { blocks: 1, heads: 1, ffnDim: 12 }],
];

function idMaps(model: SASRec): { users: IdMap; items: IdMap } {
  return {
    users: IdMap.fromJSON(Array.from({ length: model.numUsers }, (_, u) => `u${u}`)),
    items: IdMap.fromJSON(Array.from({ length: model.numItems }, (_, i) => `i${i}`)),
  };
}

/**
 * Every known user with the training history (0 to 4 items), and live histories shorter than, as long as
 * and longer than maxLength, one with a repeated item, and an empty one.
 */
function queries(model: SASRec): UserQuery[] {
  const visitor = unknownUser(model.context);
  return [
    ...Array.from({ length: model.numUsers }, (_, u) => ({ user: u })),
    { user: visitor, history: new Int32Array([2, 5]) },
    { user: visitor, history: new Int32Array([6, 0, 3, 3, 1, 4]) },
    { user: 1, history: new Int32Array([6, 0, 3, 3, 1, 4, 5, 2, 0]) },
    { user: visitor, history: new Int32Array([4]) },
    { user: 2, history: new Int32Array(0) },
    { user: visitor, history: new Int32Array(0) },
  ];
}

/** The queries' histories as the graphs take them: right-aligned in one [batch, width] block, -1 in front. */
function historyFeed(ort: Ort, qs: UserQuery[], histories: number[][], width?: number): ortNode.Tensor {
  const rows = qs.map((q) => (q.history ? Array.from(q.history) : histories[q.user]!));
  const w = width ?? Math.max(...rows.map((r) => r.length));
  const padded = new BigInt64Array(qs.length * w).fill(-1n);
  rows.forEach((r, k) => {
    const kept = w === 0 ? [] : r.slice(-w);
    kept.forEach((item, j) => (padded[k * w + w - kept.length + j] = BigInt(item)));
  });
  return new ort.Tensor("int64", padded, [qs.length, w]);
}

async function run(ort: Ort, file: Uint8Array, history: ortNode.Tensor): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(file);
  assert.deepEqual(session.inputNames, ["history"]);
  const out = await session.run({ history });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!));
  return m;
}

function nativeVectors(model: SASRec, qs: UserQuery[]): Float32Array {
  return Float32Array.from(qs.flatMap((q) => Array.from(model.userVector(q))));
}

function nativeScores(model: SASRec, qs: UserQuery[]): Float32Array {
  const scorer = model.scorer();
  const out = new Float32Array(qs.length * model.numItems);
  qs.forEach((q, k) => out.set(scorer.scoreAll(q), k * model.numItems));
  scorer.dispose?.();
  return out;
}

describe("ONNX export of a SASRec student (fp32): user vectors and scores as distillrec's", () => {
  for (const [name, config] of variants) {
    for (const [runtimeName, ort] of runtimes) {
      test(`${name} in ${runtimeName}: within 1e-5 for histories shorter than, equal to and longer than maxLength, and empty`, async () => {
        const model = sasrec(config);
        const exported = exportOnnx(model, idMaps(model));
        const qs = queries(model);
        const histories = exported.ids.histories!;
        const vectors = nativeVectors(model, qs);
        const scores = nativeScores(model, qs);
        const full = await run(ort, exported.scores, historyFeed(ort, qs, histories));
        assert.ok(
          maxDiff(full.user_vector!, vectors) <= 1e-5,
          `user vectors: max |Δ| ${maxDiff(full.user_vector!, vectors)}`,
        );
        assert.ok(maxDiff(full.scores!, scores) <= 1e-5, `scores: max |Δ| ${maxDiff(full.scores!, scores)}`);
        // The serving halves: the user encoder and the item table.
        const user = await run(ort, exported.user, historyFeed(ort, qs, histories));
        assert.ok(maxDiff(user.user_vector!, vectors) <= 1e-5);
        const items = await (
          await ort.InferenceSession.create(exported.items)
        ).run({
          item: new ort.Tensor(
            "int64",
            BigInt64Array.from({ length: model.numItems }, (_, i) => BigInt(i)),
            [model.numItems],
          ),
        });
        assert.equal(maxDiff(items.item_vector!.data as Float32Array, model.itemVectorTable()), 0);
      });
    }
  }

  test("any history width: exactly maxLength, wider (extra padding), narrower (cut to the last items), zero", async () => {
    const model = sasrec();
    const exported = exportOnnx(model, idMaps(model));
    const qs = queries(model);
    const histories = exported.ids.histories!;
    for (const width of [MAX_LENGTH, MAX_LENGTH + 5, 3]) {
      // A narrower feed holds only the last `width` items: compare with the model on those.
      const cut = qs.map((q) => ({
        user: q.user,
        history: (q.history ?? Int32Array.from(histories[q.user]!)).slice(-width),
      }));
      const out = await run(ortNode, exported.user, historyFeed(ortNode, qs, histories, width));
      const d = maxDiff(out.user_vector!, nativeVectors(model, cut));
      assert.ok(d <= 1e-5, `width ${width}: max |Δ| ${d}`);
    }
    const empty = await run(ortNode, exported.user, new ortNode.Tensor("int64", new BigInt64Array(0), [2, 0]));
    const expected = nativeVectors(model, [
      { user: 0, history: new Int32Array(0) },
      { user: 1, history: new Int32Array(0) },
    ]);
    assert.ok(maxDiff(empty.user_vector!, expected) <= 1e-5);
    // An empty history is the final LayerNorm's shift, not NaN.
    assert.ok(expected.every(Number.isFinite));
    assert.ok(maxDiff(expected.subarray(0, model.dim), model.finalNorm.bias.data) <= 1e-6);
  });

  test("the ids file gives each known user's last maxLength items and the graphs' window", () => {
    const model = sasrec({ maxLength: 3 });
    const { ids } = exportOnnx(model, idMaps(model));
    assert.equal(ids.kind, "sasrec");
    assert.equal(ids.maxHistory, 3);
    assert.deepEqual(ids.histories, [[1, 4, 2], [0, 6], [], [5, 1, 2], [6]]);
  });

  test("the web form refuses a sequence model, pointing at the ONNX export", () => {
    const model = sasrec();
    assert.throws(
      () => exportWeb(model, idMaps(model)),
      (e: unknown) => e instanceof OnnxExportError && /"sasrec" is a sequence model/.test(e.message),
    );
  });
});

/** The model with every weight matrix through the codec the export stores it with (biases and norms as they are). */
function decodedTwin(config: SASRecConfig, precision: Exclude<OnnxPrecision, "f32">): SASRec {
  const twin = sasrec(config);
  for (const p of twin.parameters()) {
    if (p.shape.length !== 2) continue;
    const [rows, dim] = p.shape as [number, number];
    p.data.set(precision === "f16" ? fromFloat16(toFloat16(p.data)) : dequantizeInt8(quantizeInt8(p.data, rows, dim)));
  }
  return twin;
}

describe("ONNX export of a SASRec student (fp16, int8)", () => {
  for (const [name, config] of variants.slice(0, 2)) {
    for (const precision of ["f16", "int8"] as const) {
      test(`${name} at ${precision}: the graph is the model with its weight matrices decoded; scores within the codec's bound`, async () => {
        const model = sasrec(config);
        const exported = exportOnnx(model, idMaps(model), precision);
        const qs = queries(model);
        const got = await run(ortNode, exported.scores, historyFeed(ortNode, qs, exported.ids.histories!));
        // The graph computes what distillrec computes with the stored (decoded) weights.
        const twin = decodedTwin(config, precision);
        const twinVectors = nativeVectors(twin, qs);
        const d = maxDiff(got.user_vector!, twinVectors);
        assert.ok(d <= 1e-5, `user vectors against the decoded model: max |Δ| ${d}`);
        // Against the fp32 model: the user vector's drift stays small, and each score is within
        // Σ |u|·δi + δu·|i| + δu·δi of the fp32 score (δi the item table's codec bound, δu the user vector's drift).
        const vectors = nativeVectors(model, qs);
        const drift = maxDiff(got.user_vector!, vectors);
        assert.ok(drift <= (precision === "f16" ? 5e-3 : 5e-2), `user vector drift ${drift}`);
        const expected = nativeScores(model, qs);
        const dim = model.dim;
        const items = model.itemVectorTable();
        qs.forEach((_, k) => {
          const u = vectors.subarray(k * dim, (k + 1) * dim);
          const du = got.user_vector!.subarray(k * dim, (k + 1) * dim).map((v, c) => Math.abs(v - u[c]!));
          for (let i = 0; i < model.numItems; i++) {
            const row = items.subarray(i * dim, (i + 1) * dim);
            const di = codecError(precision, row);
            let bound = 1e-5;
            for (let c = 0; c < dim; c++)
              bound += Math.abs(u[c]!) * di[c]! + du[c]! * Math.abs(row[c]!) + du[c]! * di[c]!;
            const diff = Math.abs(got.scores![k * model.numItems + i]! - expected[k * model.numItems + i]!);
            assert.ok(diff <= bound, `query ${k}, item ${i}: |Δ| ${diff} > bound ${bound}`);
          }
        });
      });
    }
  }

  test("compressed files are smaller: fp16 about half of fp32, int8 about a third", () => {
    const model = new SASRec(
      { dim: 32, blocks: 2, heads: 2, maxLength: 20, seed: 1 },
      { numUsers: 30, numItems: 2000 },
    );
    const size = (p: OnnxPrecision) => exportOnnx(model, idMaps(model), p).scores.length;
    assert.ok(size("f16") < 0.55 * size("f32"), `${size("f16")} vs ${size("f32")}`);
    assert.ok(size("int8") < 0.4 * size("f32"), `${size("int8")} vs ${size("f32")}`);
  });
});
