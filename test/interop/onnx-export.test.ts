import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { IdMap } from "../../src/data/idmap.js";
import { BPRMF, unknownUser, type DotProductModel, type UserQuery } from "../../src/models/index.js";
import { TwoTower, type TwoTowerConfig } from "../../src/models/two-tower.js";
import { exportOnnx, OnnxExportError } from "../../src/interop/onnx-export.js";
import type { OnnxPrecision } from "../../src/interop/onnx-graph.js";
import { codecError } from "../helpers/codecs.js";
import { tinyContext } from "../helpers/models.js";
import { createModel } from "../../src/models/index.js";

type Ort = typeof ortNode;
const runtimes: [string, Ort][] = [
  ["onnxruntime-node", ortNode],
  ["onnxruntime-web (wasm)", ortWeb as unknown as Ort],
];
ortWeb.env.wasm.numThreads = 1;

const towers: [string, TwoTowerConfig][] = [
  ["two-tower, mean pooling, summed fields", { pooling: "mean" }],
  ["two-tower, attention pooling, summed fields", { pooling: "attention" }],
  [
    "two-tower, mean pooling, MLP towers, own history table",
    { pooling: "mean", userLayers: [6], itemLayers: [5], shareItemEmbeddings: false },
  ],
  ["two-tower, attention pooling, MLP towers, no user id", { pooling: "attention", userLayers: [6], useUserId: false }],
  [
    "two-tower, QR tables",
    { pooling: "mean", userTable: { kind: "qr", remainderRows: 2 }, itemTable: { kind: "qr", remainderRows: 3 } },
  ],
];

function students(): [string, DotProductModel][] {
  return [
    ["bpr-mf", new BPRMF({ dim: 4, seed: 1, initStd: 0.5 }, tinyContext())],
    [
      "bpr-mf, QR item table",
      new BPRMF(
        { dim: 4, seed: 1, initStd: 0.5, itemTable: { kind: "qr", remainderRows: 3 } },
        tinyContext(),
      ) as unknown as DotProductModel,
    ],
    ...towers.map(([name, c]): [string, DotProductModel] => [
      name,
      new TwoTower({ dim: 4, maxHistory: 3, initStd: 0.5, seed: 3, ...c }, tinyContext()),
    ]),
  ];
}

function idMaps(model: DotProductModel): { users: IdMap; items: IdMap } {
  return {
    users: IdMap.fromJSON(Array.from({ length: model.numUsers }, (_, u) => `u${u}`)),
    items: IdMap.fromJSON(Array.from({ length: model.numItems }, (_, i) => `i${i}`)),
  };
}

/** Every known user with the training history, the unknown user and user 1 with live histories (one longer than maxHistory, one empty). */
function queries(model: DotProductModel): UserQuery[] {
  const known = Array.from({ length: model.numUsers }, (_, u) => ({ user: u }));
  if (model.historyLength === 0) return [...known, { user: unknownUser(model.context) }];
  return [
    ...known,
    { user: unknownUser(model.context), history: new Int32Array([2, 5]) },
    { user: 1, history: new Int32Array([6, 0, 3, 3, 1]) },
    { user: 2, history: new Int32Array(0) },
  ];
}

async function onnxScores(
  ort: Ort,
  file: Uint8Array,
  model: DotProductModel,
  qs: UserQuery[],
  histories?: number[][],
): Promise<{ scores: Float32Array; vectors: Float32Array }> {
  const session = await ort.InferenceSession.create(file);
  const feeds: Record<string, ortNode.Tensor> = {
    user: new ort.Tensor(
      "int64",
      BigInt64Array.from(qs, (q) => BigInt(q.user)),
      [qs.length],
    ),
  };
  if (model.historyLength > 0) {
    const rows = qs.map((q) => (q.history ? Array.from(q.history) : (histories?.[q.user] ?? [])));
    const width = Math.max(1, ...rows.map((r) => r.length));
    const padded = new BigInt64Array(qs.length * width).fill(-1n);
    rows.forEach((r, k) => r.forEach((item, j) => (padded[k * width + width - r.length + j] = BigInt(item))));
    feeds.history = new ort.Tensor("int64", padded, [qs.length, width]);
  }
  const out = await session.run(feeds);
  return {
    scores: (out.scores?.data ?? new Float32Array(0)) as Float32Array,
    vectors: out.user_vector!.data as Float32Array,
  };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!));
  return m;
}

function nativeScores(model: DotProductModel, qs: UserQuery[]): Float32Array {
  const scorer = model.scorer();
  const out = new Float32Array(qs.length * model.numItems);
  qs.forEach((q, k) => out.set(scorer.scoreAll(q), k * model.numItems));
  scorer.dispose?.();
  return out;
}

describe("ONNX export (fp32): every student kind scores as distillrec does", () => {
  for (const [name, model] of students()) {
    for (const [runtimeName, ort] of runtimes) {
      test(`${name} in ${runtimeName}: scores and user vectors within 1e-5`, async () => {
        const exported = exportOnnx(model, idMaps(model));
        const qs = queries(model);
        const expected = nativeScores(model, qs);
        const got = await onnxScores(ort, exported.scores, model, qs, exported.ids.histories);
        assert.ok(maxDiff(got.scores, expected) <= 1e-5, `max |Δ| ${maxDiff(got.scores, expected)}`);
        const vectors = qs.flatMap((q) => Array.from(model.userVector(q)));
        assert.ok(maxDiff(got.vectors, vectors) <= 1e-5);
        // The two serving halves compose to the same scores.
        const user = await onnxScores(ort, exported.user, model, qs, exported.ids.histories);
        assert.ok(maxDiff(user.vectors, vectors) <= 1e-5);
        const items = await (
          await ort.InferenceSession.create(exported.items)
        ).run({
          item: new ort.Tensor(
            "int64",
            BigInt64Array.from({ length: model.numItems }, (_, i) => BigInt(i)),
            [model.numItems],
          ),
        });
        assert.ok(maxDiff(items.item_vector!.data as Float32Array, model.itemVectorTable()) <= 1e-6);
      });
    }
  }

  test("the ids file names every user and item, the unknown user and each user's recent items", () => {
    const model = new TwoTower({ dim: 4, maxHistory: 2 }, tinyContext());
    const { ids } = exportOnnx(model, idMaps(model));
    assert.equal(ids.users.length, 5);
    assert.deepEqual(ids.items.slice(0, 2), ["i0", "i1"]);
    assert.equal(ids.unknownUser, 5);
    assert.equal(ids.maxHistory, 2);
    assert.ok(ids.histories!.every((h) => h.length <= 2));
  });

  test("a model that is not a dot-product student is refused, naming its kind", () => {
    const neumf = createModel({ kind: "neumf", gmfDim: 4, mlpSizes: [8, 4] }, tinyContext());
    assert.throws(
      () => exportOnnx(neumf, idMaps(neumf as unknown as DotProductModel)),
      (e: unknown) => {
        assert.ok(e instanceof OnnxExportError);
        assert.match(e.message, /"neumf" is not one/);
        return true;
      },
    );
  });
});

describe("ONNX export (fp16, int8): scores within the codec's bound", () => {
  // Models whose score is ⟨table row, table row⟩ (or a mean of history rows plus a user row) have a simple bound.
  const cases: [string, () => DotProductModel][] = [
    ["bpr-mf", () => new BPRMF({ dim: 6, seed: 4, initStd: 0.5 }, tinyContext())],
    ["two-tower, mean pooling", () => new TwoTower({ dim: 6, maxHistory: 3, seed: 4, initStd: 0.5 }, tinyContext())],
  ];
  for (const [name, make] of cases) {
    for (const precision of ["f16", "int8"] as const) {
      test(`${name} at ${precision}: |Δscore| ≤ Σ |u|·δi + δu·|i| + δu·δi (onnxruntime-node)`, async () => {
        const model = make();
        const exported = exportOnnx(model, idMaps(model), precision);
        const qs = queries(model);
        const expected = nativeScores(model, qs);
        const got = await onnxScores(ortNode, exported.scores, model, qs, exported.ids.histories);
        const dim = model.dim;
        const items = model.itemVectorTable();
        // Bound on each user vector's error: its id row's plus the worst history row's (a mean is no worse).
        const userError = (q: UserQuery): Float32Array => {
          const u = model.userVector(q);
          if (!(model instanceof TwoTower)) return codecError(precision, u);
          const table = model.itemEmbedding as unknown as { weight: { data: Float32Array } };
          // The id-only part of the user vector (id row and features): what an empty history leaves.
          const err = codecError(precision, model.userVector({ user: q.user, history: new Int32Array(0) }));
          let worst = 0;
          for (let i = 0; i < model.numItems; i++) {
            const e = codecError(precision, table.weight.data.subarray(i * dim, (i + 1) * dim));
            worst = Math.max(worst, ...e);
          }
          return err.map((e) => e + worst);
        };
        qs.forEach((q, k) => {
          const u = model.userVector(q);
          const du = userError(q);
          for (let i = 0; i < model.numItems; i++) {
            const row = items.subarray(i * dim, (i + 1) * dim);
            const di = codecError(precision, row);
            let bound = 1e-6;
            for (let c = 0; c < dim; c++)
              bound += Math.abs(u[c]!) * di[c]! + du[c]! * Math.abs(row[c]!) + du[c]! * di[c]!;
            const diff = Math.abs(got.scores[k * model.numItems + i]! - expected[k * model.numItems + i]!);
            assert.ok(diff <= bound, `query ${k}, item ${i}: |Δ| ${diff} > bound ${bound}`);
          }
        });
      });
    }
  }

  test("compressed files are smaller: fp16 about half of fp32, int8 about a third", () => {
    const model = new BPRMF({ dim: 16, seed: 1 }, { numUsers: 300, numItems: 500 });
    const size = (p: OnnxPrecision) => exportOnnx(model, idMaps(model), p).scores.length;
    assert.ok(size("f16") < 0.55 * size("f32"), `${size("f16")} vs ${size("f32")}`);
    assert.ok(size("int8") < 0.4 * size("f32"), `${size("int8")} vs ${size("f32")}`);
  });
});
