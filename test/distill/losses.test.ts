import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as ops from "../../src/engine/ops/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { Ids } from "../../src/engine/ops/embedding.js";
import { BPRMF } from "../../src/models/bpr-mf.js";
import { TwoTower } from "../../src/models/two-tower.js";
import type { Pairs } from "../../src/models/recommender.js";
import { UserItemIndex } from "../../src/data/sampling.js";
import { distillationLoss } from "../../src/distill/losses.js";
import { HintProjection, hintLoss, teacherRepresentation } from "../../src/distill/hint.js";
import {
  listwiseKLLoss,
  multiTaskSoftLoss,
  pointwiseSoftLoss,
  rankingDistillationLoss,
  rankingWeights,
  relaxedRankingLoss,
} from "../../src/distill/soft-losses.js";
import { hardLoss } from "../../src/train/losses.js";
import { generateSoftLabels } from "../../src/distill/soft-labels.js";
import { denseGrad, gradCheck, leaf } from "../helpers/gradcheck.js";

const close = (a: number, b: number, tol = 1e-5): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const logSig = (x: number): number => -Math.log1p(Math.exp(-x));

/** Float64 rows of a [R, C] float32 array. */
function rowsOf(values: ArrayLike<number>, cols: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < values.length / cols; r++)
    out.push(Array.from({ length: cols }, (_, c) => values[r * cols + c]!));
  return out;
}

/** The DE-RRD objective straight from its definition, in float64. */
function relaxedReference(s: number[][], u: number[][]): number {
  let total = 0;
  s.forEach((row, r) => {
    const uSum = u[r]!.reduce((a, x) => a + Math.exp(x), 0);
    for (let k = 0; k < row.length; k++) {
      let d = uSum;
      for (let j = k; j < row.length; j++) d += Math.exp(row[j]!);
      total += row[k]! - Math.log(d);
    }
  });
  return -total / s.length;
}

function teacherValues(n: number, seed: number, scale = 2): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 7.31 + seed) * scale);
}

describe("pointwiseSoftLoss", () => {
  test("is T² · BCE(s/T, σ(t/T)) and its gradient matches finite differences (T = 2)", () => {
    const s = leaf([3, 5], 11, 2);
    const t = teacherValues(15, 1);
    const T = 2;
    let ref = 0;
    for (let i = 0; i < 15; i++) {
      const x = s.data[i]! / T;
      const p = sig(t[i]! / T);
      ref += -(p * Math.log(sig(x)) + (1 - p) * Math.log(1 - sig(x)));
    }
    close(pointwiseSoftLoss(s, t, T).item(), (T * T * ref) / 15);
    endStep();
    gradCheck(() => pointwiseSoftLoss(s, t, T), [s]);
  });

  test("its gradient vanishes where the student matches the teacher", () => {
    const s = leaf([2, 4], 3, 1);
    pointwiseSoftLoss(s, Float32Array.from(s.data), 3).backward();
    for (const g of s.grad!.data) assert.ok(Math.abs(g) < 1e-6);
    endStep();
  });

  test("refuses mismatched sizes and bad temperatures", () => {
    const s = leaf([2, 3], 1);
    assert.throws(() => pointwiseSoftLoss(s, new Float32Array(5), 1), /5 teacher logits/);
    assert.throws(() => pointwiseSoftLoss(s, new Float32Array(6), 0), /temperature/);
    endStep();
  });
});

describe("listwiseKLLoss", () => {
  test("matches T²·KL(softmax(t/T) ‖ softmax(s/T)) in float64 and passes gradCheck (T = 2.5)", () => {
    const s = leaf([3, 4], 5, 2);
    const t = teacherValues(12, 2);
    const T = 2.5;
    let ref = 0;
    const sr = rowsOf(s.data, 4);
    rowsOf(t, 4).forEach((tr, r) => {
      const zt = tr.reduce((a, x) => a + Math.exp(x / T), 0);
      const zs = sr[r]!.reduce((a, x) => a + Math.exp(x / T), 0);
      tr.forEach((x, j) => {
        const p = Math.exp(x / T) / zt;
        const q = Math.exp(sr[r]![j]! / T) / zs;
        ref += p * Math.log(p / q);
      });
    });
    close(listwiseKLLoss(s, t, T).item(), (T * T * ref) / 3, 1e-4);
    endStep();
    gradCheck(() => listwiseKLLoss(s, t, T), [s]);
  });

  test("is zero when the student equals the teacher, up to a per-row shift", () => {
    const t = teacherValues(8, 3);
    const shifted = Float32Array.from(t, (x, i) => x + (i < 4 ? 1.5 : -0.5));
    const loss = listwiseKLLoss(Tensor.from(shifted, [2, 4]), t, 2).item();
    assert.ok(Math.abs(loss) < 1e-5, `${loss}`);
    endStep();
  });
});

describe("rankingDistillationLoss", () => {
  test("position weights are exp(−r/λ) normalised: they sum to 1 and decrease", () => {
    const w = rankingWeights(5, 2);
    close(
      w.reduce((a, b) => a + b, 0),
      1,
    );
    for (let r = 1; r < 5; r++) close(w[r]! / w[r - 1]!, Math.exp(-1 / 2));
    assert.throws(() => rankingWeights(3, 0), /lambda/);
  });

  test("is −mean Σ_r w_r log σ(s_r) and passes gradCheck", () => {
    const s = leaf([4, 3], 7, 3);
    const w = rankingWeights(3, 10);
    let ref = 0;
    for (const row of rowsOf(s.data, 3)) row.forEach((x, r) => (ref -= w[r]! * logSig(x)));
    close(rankingDistillationLoss(s).item(), ref / 4);
    endStep();
    gradCheck(() => rankingDistillationLoss(s, 3), [s]);
  });
});

describe("relaxedRankingLoss", () => {
  test("matches a direct float64 computation of the DE-RRD objective", () => {
    const s = leaf([3, 4], 21, 2);
    const u = leaf([3, 5], 22, 2);
    close(relaxedRankingLoss(s, u).item(), relaxedReference(rowsOf(s.data, 4), rowsOf(u.data, 5)));
    endStep();
  });

  test("passes gradCheck in both inputs, and in one tensor sliced in two", () => {
    const s = leaf([3, 4], 31, 2);
    const u = leaf([3, 6], 32, 2);
    gradCheck(() => relaxedRankingLoss(s, u), [s, u]);
    const list = leaf([2, 7], 33, 2);
    gradCheck(() => relaxedRankingLoss(ops.sliceLastDim(list, 1, 4), ops.sliceLastDim(list, 4, 7)), [list]);
  });

  test("without uninteresting items, only the order of the interesting ones counts", () => {
    const s = leaf([2, 3], 41, 1);
    const u = Tensor.from([], [2, 0]);
    close(relaxedRankingLoss(s, u).item(), relaxedReference(rowsOf(s.data, 3), [[], []]));
    endStep();
    gradCheck(() => relaxedRankingLoss(s, Tensor.from([], [2, 0])), [s]);
  });

  test("prefers the teacher's order, and stays finite for logits of ±500", () => {
    const agree = relaxedRankingLoss(Tensor.from([3, 2, 1], [1, 3]), Tensor.from([0, 0], [1, 2])).item();
    const reverse = relaxedRankingLoss(Tensor.from([1, 2, 3], [1, 3]), Tensor.from([0, 0], [1, 2])).item();
    assert.ok(agree < reverse, `${agree} !< ${reverse}`);
    endStep();
    const s = Tensor.parameter([1, 3], (d) => d.set([500, -500, 0]));
    const u = Tensor.parameter([1, 2], (d) => d.set([-500, 499]));
    const loss = relaxedRankingLoss(s, u);
    // logD_1 = 500 + log(1 + e^-1) and logD_2 = logD_3 = 499 up to e^-499, so the terms are exact in float64.
    close(loss.item(), Math.log1p(Math.exp(-1)) + (499 + 500) + 499, 1e-6);
    loss.backward();
    for (const g of [...s.grad!.data, ...u.grad!.data]) assert.ok(Number.isFinite(g));
    endStep();
  });
});

describe("hintLoss", () => {
  test("is mse(projection(student), teacher) and passes gradCheck in the representation and the projection", () => {
    const projection = new HintProjection(3, 5, { seed: 4 });
    const x = leaf([4, 3], 51, 1);
    const teacher = teacherValues(20, 4, 1);
    const projected = projection.forward(x).toArray();
    const ref = projected.reduce((a, v, i) => a + (v - teacher[i]!) ** 2, 0) / 20;
    close(hintLoss(x, teacher, projection).item(), ref);
    endStep();
    gradCheck(() => hintLoss(x, teacher, projection), [x, ...projection.parameters()]);
    assert.deepEqual(
      projection.parameters().map((p) => p.shape),
      [[5, 3], [5]],
    );
  });
});

describe("multiTaskSoftLoss", () => {
  test("is the weighted sum of pointwise soft losses per head and passes gradCheck", () => {
    const click = leaf([6], 61, 2);
    const buy = leaf([6], 62, 2);
    const teacher = { click: teacherValues(6, 5), buy: teacherValues(6, 6), extra: teacherValues(6, 7) };
    const T = 1.5;
    const expected =
      pointwiseSoftLoss(click, teacher.click, T).item() + 0.25 * pointwiseSoftLoss(buy, teacher.buy, T).item();
    close(multiTaskSoftLoss({ click, buy }, teacher, T, { buy: 0.25 }).item(), expected);
    endStep();
    gradCheck(() => multiTaskSoftLoss({ click, buy }, teacher, T, { buy: 0.25 }), [click, buy]);
  });

  test("refuses a student head without teacher logits", () => {
    assert.throws(() => multiTaskSoftLoss({ like: leaf([2], 1) }, { click: new Float32Array(2) }), /task "like"/);
    endStep();
  });
});

describe("hardLoss", () => {
  const context = { numUsers: 4, numItems: 7 };
  const batch = {
    users: new Int32Array([0, 3, 1]),
    positives: new Int32Array([2, 6, 0]),
    negatives: new Int32Array([5, 1, 4]),
  };

  test('"bce" is the binary cross-entropy of the positives (label 1) and negatives (label 0), mean over 2n scores', () => {
    const student = new BPRMF({ dim: 3, seed: 5, initStd: 0.8 }, context);
    const P = rowsOf(student.userEmbedding.weight.data, 3);
    const Q = rowsOf(student.itemEmbedding.weight.data, 3);
    const score = (u: number, i: number): number => P[u]!.reduce((a, p, d) => a + p * Q[i]![d]!, 0);
    let ref = 0;
    for (let k = 0; k < 3; k++) {
      ref -= logSig(score(batch.users[k]!, batch.positives[k]!)); // −log σ(s), label 1
      ref -= logSig(-score(batch.users[k]!, batch.negatives[k]!)); // −log(1 − σ(s)), label 0
    }
    close(hardLoss(student, batch, "bce").item(), ref / 6);
    endStep();
    gradCheck(() => hardLoss(student, batch, "bce"), student.parameters());
  });

  test('"bce" keeps each pair\'s history end for both halves; "bpr" (the default) is the model\'s own loss', () => {
    const histories = {
      offsets: Int32Array.from([0, 3, 5, 6, 9]),
      items: Int32Array.from([1, 2, 3, 0, 6, 4, 5, 2, 1]),
    };
    const student = new TwoTower({ dim: 4, seed: 2, initStd: 0.5 }, { ...context, histories });
    const ends = { ...batch, historyEnd: new Int32Array([1, 7, 3]) };
    const forward = (items: Int32Array): number[] =>
      student.forward({ users: new Ids(ends.users), items: new Ids(items), historyEnd: ends.historyEnd }).toArray();
    const pos = forward(ends.positives);
    const neg = forward(ends.negatives);
    const ref = -(pos.reduce((a, s) => a + logSig(s), 0) + neg.reduce((a, s) => a + logSig(-s), 0)) / 6;
    close(hardLoss(student, ends, "bce").item(), ref);
    // Without history ends the users see their whole history: another value.
    assert.ok(Math.abs(hardLoss(student, batch, "bce").item() - ref) > 1e-4);
    close(hardLoss(student, ends).item(), student.loss(ends).item());
    endStep();
  });

  test("distillationLoss weights the chosen hard loss and refuses unknown ones", () => {
    const student = new BPRMF({ dim: 3, seed: 5, initStd: 0.8 }, context);
    const bce = hardLoss(student, batch, "bce").item();
    const bpr = student.loss(batch).item();
    const { total, parts } = distillationLoss(student, batch, null, { hard: 0.7, hardLoss: "bce" });
    close(parts.hard!, bce);
    close(total.item(), 0.7 * bce);
    close(distillationLoss(student, batch, null, { hard: 0.7 }).parts.hard!, bpr);
    assert.notEqual(bce, bpr);
    const bad = { hardLoss: "hinge" } as unknown as { hardLoss: "bce" };
    assert.throws(() => distillationLoss(student, batch, null, bad), /unknown hard loss "hinge" \(known: bpr, bce\)/);
    endStep();
  });
});

/** BPR-MF whose representation is the element-wise product p_u ⊙ q_i (its score is that vector's sum). */
class HintMF extends BPRMF {
  override representation(pairs: Pairs): Tensor {
    return ops.mul(this.userEmbedding.forward(pairs.users), this.itemEmbedding.forward(pairs.items));
  }
}

describe("distillationLoss", () => {
  const context = { numUsers: 5, numItems: 24 };
  const seen = new UserItemIndex(new Int32Array([0, 2, 3, 5, 6, 8]), new Int32Array([1, 4, 0, 2, 7, 9, 3, 5, 11]));
  const teacher = new HintMF({ dim: 8, seed: 7, initStd: 0.5 }, context);
  const labels = generateSoftLabels(teacher, {
    users: new Int32Array([0, 1, 2, 3, 4]),
    seen,
    positivesPerUser: 2,
    topK: 3,
    negatives: 4,
    seed: 9,
    numItems: 24,
    tasks: true,
  });
  const batch = {
    users: new Int32Array([0, 2, 4, 2]),
    positives: new Int32Array([1, 2, 3, 7]),
    negatives: new Int32Array([10, 12, 13, 14]),
  };
  const all = {
    hard: 0.5,
    pointwise: 0.3,
    listwise: 0.7,
    ranking: 1.1,
    relaxedRanking: 0.4,
    hint: 0.9,
    multiTask: 0.2,
    temperature: 2,
    rankingLambda: 5,
  };

  test("with every term on: finite, all parts reported, gradients reach the student and the projection, never the teacher", () => {
    const student = new HintMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    const projection = new HintProjection(3, 8, { seed: 1 });
    const extras = { teacherRepresentation: teacherRepresentation(teacher), projection };
    const { total, parts } = distillationLoss(student, batch, labels, all, extras);
    assert.deepEqual(Object.keys(parts).sort(), [
      "hard",
      "hint",
      "listwise",
      "multiTask",
      "pointwise",
      "ranking",
      "relaxedRanking",
      "total",
    ]);
    for (const v of Object.values(parts)) assert.ok(Number.isFinite(v));
    const weighted =
      0.5 * parts.hard! +
      0.3 * parts.pointwise! +
      0.7 * parts.listwise! +
      1.1 * parts.ranking! +
      0.4 * parts.relaxedRanking! +
      0.9 * parts.hint! +
      0.2 * parts.multiTask!;
    close(total.item(), weighted, 1e-5);
    close(parts.total!, weighted, 1e-5);
    total.backward();
    for (const p of [...student.parameters(), ...projection.parameters()]) {
      assert.ok(
        denseGrad(p).some((g) => g !== 0),
        `no gradient for ${p.name}`,
      );
    }
    for (const p of teacher.parameters()) assert.ok(p.grad === null && p.sparseGrad === null, `${p.name} got a grad`);
    endStep();
  });

  test("the whole objective passes gradCheck in the student's and the projection's parameters", () => {
    const student = new HintMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    const projection = new HintProjection(3, 8, { seed: 1 });
    const extras = { teacherRepresentation: teacherRepresentation(teacher), projection };
    gradCheck(
      () => distillationLoss(student, batch, labels, all, extras).total,
      [...student.parameters(), ...projection.parameters()],
    );
  });

  test("the ranking term scores the top-K slice and the relaxed term top-K against the negatives", () => {
    const student = new HintMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    const rows = new Int32Array([2, 0]);
    const L = labels.listLength;
    const scoresOf = (r: number): number[] => {
      const items = labels.items.subarray(r * L, (r + 1) * L);
      return Array.from(student.scorer().scoreCandidates({ user: labels.users[r]! }, items));
    };
    const lists = [...rows].map(scoresOf);
    const w = rankingWeights(3, 5);
    let ranking = 0;
    for (const row of lists) for (let r = 0; r < 3; r++) ranking -= w[r]! * logSig(row[2 + r]!);
    const relaxed = relaxedReference(
      lists.map((row) => row.slice(2, 5)),
      lists.map((row) => row.slice(5)),
    );
    const { parts } = distillationLoss(student, { ...batch, lists: { rows } }, labels, {
      hard: 0,
      ranking: 1,
      relaxedRanking: 1,
      rankingLambda: 5,
    });
    close(parts.ranking!, ranking / 2, 1e-4);
    close(parts.relaxedRanking!, relaxed, 1e-4);
    endStep();
  });

  test("picks each batch user's list once by default, or the distinct rows of batch.rows", () => {
    const student = new HintMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    const weights = { hard: 0, listwise: 1, temperature: 2 };
    const byUsers = distillationLoss(student, batch, labels, weights).parts.listwise!;
    endStep();
    const explicit = distillationLoss(
      student,
      { ...batch, lists: { rows: new Int32Array([0, 2, 4]) } },
      labels,
      weights,
    ).parts.listwise!;
    endStep();
    const perTriple = distillationLoss(student, { ...batch, rows: new Int32Array([0, 2, -1, 2, 4]) }, labels, weights)
      .parts.listwise!;
    endStep();
    const other = distillationLoss(student, { ...batch, lists: { rows: new Int32Array([1]) } }, labels, weights).parts
      .listwise!;
    endStep();
    close(byUsers, explicit);
    close(perTriple, explicit);
    assert.notEqual(other, explicit);
  });

  test("refuses enabled terms without their inputs", () => {
    const student = new HintMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    assert.throws(() => distillationLoss(student, batch, null, { listwise: 1 }), /no soft labels/);
    assert.throws(() => distillationLoss(student, batch, labels, { hint: 1 }), /teacherRepresentation/);
    assert.throws(() => distillationLoss(student, batch, labels, { hard: 0 }), /every term is disabled/);
    const withoutTasks = { ...labels, taskScores: undefined };
    assert.throws(() => distillationLoss(student, batch, withoutTasks, { multiTask: 1 }), /tasks: true/);
    endStep();
  });
});
