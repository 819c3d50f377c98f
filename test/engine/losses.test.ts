import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { denseGrad, gradCheck, leaf } from "../helpers/gradcheck.js";

function close(got: number, want: number, what: string, tol = 1e-5): void {
  assert.ok(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `${what}: got ${got}, want ${want}`);
}

/** Persistent constant values in [0, 1] (soft labels, weights). */
function unitConstant(shape: number[], seed: number): Tensor {
  const t = leaf(shape, seed, 0.5);
  for (let i = 0; i < t.size; i++) t.data[i] = t.data[i]! + 0.5;
  t.requiresGrad = false;
  return t;
}

function logSoftmax64(row: ArrayLike<number>, temperature = 1): number[] {
  const z = Array.from(row, (v) => v / temperature);
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

/** T² · mean over rows of KL(softmax(teacher/T) ‖ softmax(student/T)) in float64. */
function kl64(student: Tensor, teacher: Tensor, temperature: number): number {
  const n = student.shape.at(-1)!;
  const rows = student.size / n;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const lq = logSoftmax64(student.data.subarray(r * n, (r + 1) * n), temperature);
    const lp = logSoftmax64(teacher.data.subarray(r * n, (r + 1) * n), temperature);
    lp.forEach((p, j) => (total += Math.exp(p) * (p - lq[j]!)));
  }
  return (temperature * temperature * total) / rows;
}

describe("bceWithLogits", () => {
  const bce64 = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));

  test("matches float64 with soft labels, with and without weights", () => {
    const x = leaf([6, 3], 1, 4);
    const t = unitConstant([6, 3], 2);
    const w = unitConstant([6, 3], 3);
    let plain = 0;
    let weighted = 0;
    for (let i = 0; i < x.size; i++) {
      plain += bce64(x.data[i]!, t.data[i]!);
      weighted += w.data[i]! * bce64(x.data[i]!, t.data[i]!);
    }
    close(ops.bceWithLogits(x, t).item(), plain / x.size, "unweighted");
    close(ops.bceWithLogits(x, t, w).item(), weighted / x.size, "weighted");
    close(ops.bceWithLogits(x, Array.from(t.data), Array.from(w.data)).item(), weighted / x.size, "arrays");
    endStep();
  });

  test("is stable for |x| = 100", () => {
    const x = Tensor.parameter([4], (d) => d.set([100, -100, 100, -100]));
    const loss = ops.bceWithLogits(x, [0, 1, 1, 0]);
    close(loss.item(), (100 + 100 + 0 + 0) / 4, "loss");
    loss.backward();
    assert.deepEqual(Array.from(x.grad!.data), [0.25, -0.25, 0, 0]);
    endStep();
  });

  test("gradients match finite differences", () => {
    const x = leaf([5, 7], 4, 3);
    const t = unitConstant([5, 7], 5);
    const w = unitConstant([5, 7], 6);
    gradCheck(() => ops.bceWithLogits(x, t), [x]);
    gradCheck(() => ops.bceWithLogits(x, t, w), [x]);
  });

  test("targets and weights must match the logits", () => {
    const x = leaf([4], 1);
    assert.throws(() => ops.bceWithLogits(x, [1, 0]), /bceWithLogits: targets 2 values do not match \[4\]/);
    assert.throws(
      () => ops.bceWithLogits(x, [1, 0, 1, 0], leaf([3], 2)),
      /bceWithLogits: weights \[3\] do not match \[4\]/,
    );
    endStep();
  });
});

describe("bprLoss", () => {
  test("matches -mean(log sigmoid(pos - neg)) in float64, and its gradients", () => {
    const pos = leaf([9], 7, 3);
    const neg = leaf([9], 8, 3);
    let want = 0;
    for (let i = 0; i < 9; i++) want += Math.log1p(Math.exp(-(pos.data[i]! - neg.data[i]!)));
    close(ops.bprLoss(pos, neg).item(), want / 9, "loss");
    endStep();
    gradCheck(() => ops.bprLoss(pos, neg), [pos, neg]);
  });
});

describe("softmaxCrossEntropy", () => {
  const classes = new Int32Array([2, 0, 6, 6, 3]);

  test("with class ids matches float64", () => {
    const logits = leaf([5, 7], 9, 3);
    let want = 0;
    for (let r = 0; r < 5; r++) want -= logSoftmax64(logits.data.subarray(r * 7, r * 7 + 7))[classes[r]!]!;
    close(ops.softmaxCrossEntropy(logits, classes).item(), want / 5, "loss");
    endStep();
  });

  test("one-hot soft targets give the same loss and gradient as class ids", () => {
    const logits = leaf([5, 7], 10, 3);
    const oneHot = Tensor.zeros([5, 7], { persistent: true });
    classes.forEach((c, r) => (oneHot.data[r * 7 + c] = 1));
    const fromIds = ops.softmaxCrossEntropy(logits, classes);
    fromIds.backward();
    const gIds = denseGrad(logits);
    logits.grad = null;
    const fromSoft = ops.softmaxCrossEntropy(logits, oneHot);
    fromSoft.backward();
    const gSoft = denseGrad(logits);
    close(fromSoft.item(), fromIds.item(), "loss", 1e-6);
    gIds.forEach((g, i) => close(gSoft[i]!, g, `gradient ${i}`, 1e-6));
    endStep();
  });

  test("soft targets match float64 and gradients match finite differences", () => {
    const logits = leaf([4, 6], 11, 3);
    const soft = Tensor.parameter([4, 6], () => {});
    soft.requiresGrad = false;
    const probs = ops.softmax(leaf([4, 6], 12, 2));
    soft.data.set(probs.data);
    endStep();
    let want = 0;
    for (let r = 0; r < 4; r++) {
      const lp = logSoftmax64(logits.data.subarray(r * 6, r * 6 + 6));
      lp.forEach((v, j) => (want -= soft.data[r * 6 + j]! * v));
    }
    close(ops.softmaxCrossEntropy(logits, soft).item(), want / 4, "loss");
    endStep();
    gradCheck(() => ops.softmaxCrossEntropy(logits, soft), [logits]);
    gradCheck(() => ops.softmaxCrossEntropy(logits, new Int32Array([5, 0, 3, 3])), [logits]);
  });

  test("is stable for logits of ±1000", () => {
    const logits = Tensor.parameter([2, 3], (d) => d.set([1000, -1000, 0, -1000, 1000, 999]));
    const loss = ops.softmaxCrossEntropy(logits, new Int32Array([1, 2]));
    close(loss.item(), (2000 + Math.log1p(Math.exp(-1))) / 2 + 0.5, "loss", 1e-6);
    loss.backward();
    for (const g of logits.grad!.data) assert.ok(Number.isFinite(g));
    endStep();
  });

  test("rejects bad targets", () => {
    const logits = leaf([2, 3], 13);
    assert.throws(() => ops.softmaxCrossEntropy(logits, new Int32Array([0, 3])), /class id 3 at row 1 is outside 0..2/);
    assert.throws(() => ops.softmaxCrossEntropy(logits, new Int32Array([0])), /1 class ids for logits \[2, 3\]/);
    assert.throws(
      () => ops.softmaxCrossEntropy(logits, leaf([3, 2], 1)),
      /target \[3, 2\] does not match logits \[2, 3\]/,
    );
    assert.throws(
      () => ops.softmaxCrossEntropy(leaf([3], 1), new Int32Array([0])),
      /logits must be \[batch, classes\]/,
    );
    endStep();
  });
});

describe("sampledSoftmaxCrossEntropy", () => {
  test("equals softmaxCrossEntropy of [positive, negatives] with class 0, in loss and both gradients", () => {
    // 7 negatives: not a multiple of the kernels' four lanes.
    const positive = leaf([5], 20, 3);
    const negatives = leaf([5, 7], 21, 3);
    const fused = ops.sampledSoftmaxCrossEntropy(positive, negatives);
    fused.backward();
    const [gPositive, gNegatives] = [denseGrad(positive), denseGrad(negatives)];
    positive.grad = negatives.grad = null;
    const logits = ops.concat([positive.reshape([5, 1]), negatives], -1);
    const reference = ops.softmaxCrossEntropy(logits, new Int32Array(5));
    reference.backward();
    close(fused.item(), reference.item(), "loss", 1e-6);
    denseGrad(positive).forEach((g, i) => close(gPositive[i]!, g, `positive gradient ${i}`, 1e-6));
    denseGrad(negatives).forEach((g, i) => close(gNegatives[i]!, g, `negative gradient ${i}`, 1e-6));
    endStep();
  });

  test("matches float64 and its gradients match finite differences", () => {
    const positive = leaf([4, 1], 22, 2);
    const negatives = leaf([4, 9], 23, 2);
    let want = 0;
    for (let r = 0; r < 4; r++) {
      want -= logSoftmax64([positive.data[r]!, ...negatives.data.subarray(r * 9, r * 9 + 9)])[0]!;
    }
    close(ops.sampledSoftmaxCrossEntropy(positive, negatives).item(), want / 4, "loss");
    endStep();
    gradCheck(() => ops.sampledSoftmaxCrossEntropy(positive, negatives), [positive, negatives]);
  });

  test("is stable for logits of ±1000", () => {
    const positive = Tensor.parameter([2], (d) => d.set([-1000, 1000]));
    const negatives = Tensor.parameter([2, 2], (d) => d.set([1000, 0, -1000, 999]));
    const loss = ops.sampledSoftmaxCrossEntropy(positive, negatives);
    // Row 0: 1000 − (−1000); row 1: log(1 + e^−1).
    close(loss.item(), (2000 + Math.log1p(Math.exp(-1))) / 2, "loss", 1e-6);
    loss.backward();
    for (const g of [...positive.grad!.data, ...negatives.grad!.data]) assert.ok(Number.isFinite(g));
    endStep();
  });

  test("rejects positives that do not match the negatives' rows", () => {
    assert.throws(
      () => ops.sampledSoftmaxCrossEntropy(leaf([3], 24), leaf([2, 4], 25)),
      /positive logits \[3\] do not match negatives \[2, 4\]/,
    );
    assert.throws(
      () => ops.sampledSoftmaxCrossEntropy(leaf([2, 2], 26), leaf([2, 4], 27)),
      /positive logits \[2, 2\] do not match/,
    );
    endStep();
  });
});

describe("klDivergence", () => {
  test("is 0 for identical logits", () => {
    const s = leaf([4, 9], 14, 3);
    for (const t of [1, 4]) assert.ok(Math.abs(ops.klDivergence(s, s, t).item()) < 1e-6);
    endStep();
  });

  for (const temperature of [1, 3]) {
    test(`matches T² · mean KL in float64 and is positive (T = ${temperature})`, () => {
      const s = leaf([4, 9], 15, 3);
      const t = leaf([4, 9], 16, 3);
      const got = ops.klDivergence(s, t, temperature).item();
      assert.ok(got > 0);
      close(got, kl64(s, t, temperature), "kl", 1e-4);
      endStep();
    });
  }

  test("gradient matches finite differences and flows to the student only", () => {
    const s = leaf([3, 7], 17, 2);
    const t = leaf([3, 7], 18, 2);
    gradCheck(() => ops.klDivergence(s, t, 2), [s]);
    assert.equal(t.grad, null);
    gradCheck(() => ops.klDivergence(s, t, 1), [s]);
  });

  test("is finite for logits of ±1000", () => {
    const s = Tensor.parameter([2, 3], (d) => d.set([1000, -1000, 0, -1000, 1000, 999]));
    const t = Tensor.from([-1000, 1000, 0, 1000, -1000, 0], [2, 3]);
    const loss = ops.klDivergence(s, t, 2);
    assert.ok(Number.isFinite(loss.item()));
    close(loss.item(), kl64(s, t, 2), "kl", 1e-4);
    loss.backward();
    for (const g of s.grad!.data) assert.ok(Number.isFinite(g));
    endStep();
  });

  test("rejects mismatched shapes and bad temperatures", () => {
    const s = leaf([2, 3], 1);
    assert.throws(
      () => ops.klDivergence(s, leaf([3, 2], 2).reshape([6]), 1),
      /teacher \[6\] does not match student \[2, 3\]/,
    );
    assert.throws(() => ops.klDivergence(s, s, 0), /temperature must be a positive finite number/);
    endStep();
  });
});

describe("mse", () => {
  test("matches float64 and its gradients reach prediction and target", () => {
    const pred = leaf([3, 5], 19);
    const target = leaf([3, 5], 20);
    let want = 0;
    for (let i = 0; i < 15; i++) want += (pred.data[i]! - target.data[i]!) ** 2;
    close(ops.mse(pred, target).item(), want / 15, "loss");
    close(ops.mse(pred, Array.from(target.data)).item(), want / 15, "array target");
    endStep();
    gradCheck(() => ops.mse(pred, target), [pred, target]);
  });

  test("rejects a target of another shape", () => {
    assert.throws(
      () => ops.mse(leaf([2, 3], 1), leaf([3, 2], 2)),
      /mse: target \[3, 2\] does not match prediction \[2, 3\]/,
    );
    assert.throws(() => ops.mse(leaf([2, 3], 1), [1, 2]), /mse: target 2 values do not match \[2, 3\]/);
    endStep();
  });
});
