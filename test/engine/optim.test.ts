import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { Adagrad, Adam, AdamW, SGD, type Optimizer } from "../../src/engine/optim.js";
import { runtime } from "../../src/engine/runtime.js";
import { Tensor, endStep, type SparseRows } from "../../src/engine/tensor.js";

// ---- float64 references, transcribed from the algorithm boxes of the torch.optim docs ----------------

interface Hyper {
  lr: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  eps: number;
  initialAccumulator: number;
  beta1: number;
  beta2: number;
}

const defaults: Hyper = {
  lr: 0.1,
  weightDecay: 0,
  momentum: 0,
  nesterov: false,
  eps: 1e-8,
  initialAccumulator: 0,
  beta1: 0.9,
  beta2: 0.999,
};

type Rule = "sgd" | "adagrad" | "adam" | "adamw";

/** Per-element state of the references: momentum buffer / accumulator / first and second moments. */
interface RefState {
  b: number[];
  s: number[];
  m: number[];
  v: number[];
}

function refState(n: number, h: Hyper): RefState {
  return { b: zeros(n), s: new Array<number>(n).fill(h.initialAccumulator), m: zeros(n), v: zeros(n) };
}

/** One reference update of the elements `which` of p (every element when undefined), at step t (from 1). */
function refStep(rule: Rule, h: Hyper, p: number[], grad: number[], st: RefState, t: number, which?: number[]): void {
  for (const i of which ?? p.map((_, k) => k)) {
    let g = grad[i]!;
    if (rule === "sgd") {
      g += h.weightDecay * p[i]!;
      if (h.momentum !== 0) {
        st.b[i] = t === 1 ? g : h.momentum * st.b[i]! + g;
        g = h.nesterov ? g + h.momentum * st.b[i]! : st.b[i]!;
      }
      p[i] = p[i]! - h.lr * g;
    } else if (rule === "adagrad") {
      g += h.weightDecay * p[i]!;
      st.s[i] = st.s[i]! + g * g;
      p[i] = p[i]! - (h.lr * g) / (Math.sqrt(st.s[i]!) + h.eps);
    } else {
      if (rule === "adam") g += h.weightDecay * p[i]!;
      else p[i] = p[i]! * (1 - h.lr * h.weightDecay);
      st.m[i] = h.beta1 * st.m[i]! + (1 - h.beta1) * g;
      st.v[i] = h.beta2 * st.v[i]! + (1 - h.beta2) * g * g;
      const mHat = st.m[i]! / (1 - h.beta1 ** t);
      const vHat = st.v[i]! / (1 - h.beta2 ** t);
      p[i] = p[i]! - (h.lr * mHat) / (Math.sqrt(vHat) + h.eps);
    }
  }
}

function build(rule: Rule, params: Tensor[], h: Hyper): Optimizer {
  switch (rule) {
    case "sgd":
      return new SGD(params, h);
    case "adagrad":
      return new Adagrad(params, h);
    case "adam":
      return new Adam(params, h);
    case "adamw":
      return new AdamW(params, h);
  }
}

// ---- helpers ------------------------------------------------------------------------------------------

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

function parameter(values: readonly number[], shape: number[] = [values.length], sparse = false): Tensor {
  const t = Tensor.parameter(shape, (d) => d.set(values));
  t.sparse = sparse;
  return t;
}

/** Deterministic pseudo-random values in [-1, 1) (xorshift), so gradients differ per element and step. */
function values(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  });
}

function setDenseGrad(param: Tensor, grad: readonly number[]): void {
  param.grad ??= Tensor.zeros(param.shape, { persistent: true });
  param.grad.data.set(grad);
}

/** A sparse gradient part in scratch memory: rows[k] (dim floats each) belongs to table row ids[k]. */
function sparsePart(ids: readonly number[], rows: readonly number[]): SparseRows {
  const rt = runtime();
  return { indices: rt.scratchI32(ids), rows: rt.scratchF32(rows), count: ids.length };
}

function assertClose(actual: ArrayLike<number>, expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    assert.ok(err <= tol * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const f32 = (xs: ArrayLike<number>): number[] => Array.from(xs, Math.fround);

// ---- dense updates against the references --------------------------------------------------------------

const cases: { rule: Rule; label: string; hyper: Partial<Hyper> }[] = [
  { rule: "sgd", label: "SGD", hyper: {} },
  { rule: "sgd", label: "SGD + weight decay", hyper: { weightDecay: 0.3 } },
  { rule: "sgd", label: "SGD + momentum", hyper: { momentum: 0.9 } },
  { rule: "sgd", label: "SGD + Nesterov + weight decay", hyper: { momentum: 0.8, nesterov: true, weightDecay: 0.2 } },
  { rule: "adagrad", label: "Adagrad", hyper: { eps: 1e-10 } },
  { rule: "adagrad", label: "Adagrad + accumulator + decay", hyper: { initialAccumulator: 0.5, weightDecay: 0.1 } },
  { rule: "adam", label: "Adam", hyper: {} },
  { rule: "adam", label: "Adam + L2 weight decay", hyper: { weightDecay: 0.5, beta1: 0.8, beta2: 0.99 } },
  { rule: "adamw", label: "AdamW + decoupled weight decay", hyper: { weightDecay: 0.5 } },
];

describe("dense optimiser steps match the float64 reference", () => {
  for (const { rule, label, hyper } of cases) {
    test(label, () => {
      const h = { ...defaults, ...hyper };
      // Seven elements: one four-lane SIMD block and a three-element scalar tail.
      const start = f32(values(7, 5));
      const param = parameter(start);
      const opt = build(rule, [param], h);
      const expected = start.slice();
      const st = refState(7, h);
      for (let t = 1; t <= 3; t++) {
        const grad = f32(values(7, 100 + t));
        setDenseGrad(param, grad);
        opt.step();
        refStep(rule, h, expected, grad, st, t);
        assertClose(param.data, expected, 2e-6, `${label} step ${t}`);
        assert.ok(
          param.grad!.data.every((g) => g === 0),
          "step() consumes (zeroes) the dense gradient",
        );
      }
    });
  }

  test("AdamW's default weight decay is 0.01 and decays even without gradient signal", () => {
    const param = parameter([2, -4]);
    const opt = new AdamW([param], { lr: 0.1 });
    assert.equal(opt.weightDecay, 0.01);
    setDenseGrad(param, [0, 0]);
    opt.step();
    assertClose(param.data, [2 * (1 - 0.1 * 0.01), -4 * (1 - 0.1 * 0.01)], 1e-7, "decayed");
  });

  test("a changed lr takes effect on the next step", () => {
    const param = parameter([1]);
    const opt = new SGD([param], { lr: 0.5 });
    setDenseGrad(param, [1]);
    opt.step();
    opt.lr = 0.25;
    setDenseGrad(param, [1]);
    opt.step();
    assert.equal(param.data[0], 1 - 0.5 - 0.25);
  });
});

describe("optimiser state and gradients", () => {
  test("state is allocated eagerly, in parameter order then kind; a sparse table's slots once per thread", () => {
    const rt = runtime();
    const a = parameter(values(6, 1), [2, 3]);
    const b = parameter(values(8, 2), [4, 2], true);
    a.name = "a";
    b.name = "b";
    const { result: opt, blocks } = rt.recordAllocations(() => new Adam([a, b], { lr: 0.1 }));
    const state = opt.stateTensors();
    assert.deepEqual(
      state.map((t) => t.name),
      ["a.m", "a.v", "b.m", "b.v"],
    );
    assert.deepEqual(
      state.map((t) => t.shape),
      [a.shape, a.shape, b.shape, b.shape],
    );
    // Only the four state tensors, in order: workers replaying them share exactly the state.
    assert.deepEqual(
      blocks.map(([ptr]) => ptr),
      state.map((t) => t.ptr),
    );
    const sparseStep = () => {
      setDenseGrad(a, values(6, 3));
      return rt.recordAllocations(() => {
        b.sparseGrad = [sparsePart([3, 0, 3], values(6, 4))];
        opt.step();
      }).blocks;
    };
    // The first sparse step allocates this thread's slot array for b (4 rows of int32), later ones nothing.
    assert.deepEqual(
      sparseStep().map(([, bytes]) => bytes),
      [16],
    );
    endStep();
    assert.deepEqual(sparseStep(), []);
    endStep();
  });

  test("Adagrad's accumulator starts at initialAccumulator; SGD without momentum keeps no state", () => {
    const p = parameter([1, 2, 3]);
    const [sum] = new Adagrad([p], { lr: 0.1, initialAccumulator: 0.25 }).stateTensors();
    assert.deepEqual(Array.from(sum!.data), [0.25, 0.25, 0.25]);
    assert.equal(new SGD([p], { lr: 0.1 }).stateTensors().length, 0);
    assert.equal(new SGD([p], { lr: 0.1, momentum: 0.9 }).stateTensors().length, 1);
  });

  test("zeroGrad zeroes dense gradients in place and drops sparse ones", () => {
    const dense = parameter([1, 2, 3, 4, 5]);
    const table = parameter(values(6, 1), [3, 2], true);
    const opt = new SGD([dense, table], { lr: 1 });
    setDenseGrad(dense, [1, 1, 1, 1, 1]);
    const buffer = dense.grad;
    table.sparseGrad = [sparsePart([1], [1, 1])];
    opt.zeroGrad();
    assert.equal(dense.grad, buffer);
    assert.deepEqual(Array.from(dense.grad!.data), [0, 0, 0, 0, 0]);
    assert.equal(table.sparseGrad, null);
    const before = Array.from(table.data);
    opt.step();
    assert.deepEqual(Array.from(dense.data), [1, 2, 3, 4, 5]);
    assert.deepEqual(Array.from(table.data), before);
    endStep();
  });

  test("rejects bad settings and sparse gradients on tables not marked sparse", () => {
    const p = parameter([1, 2]);
    assert.throws(() => new SGD([p], { lr: -1 }), /lr must be ≥ 0/);
    assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /nesterov needs a positive momentum/);
    assert.throws(() => new Adam([p], { lr: 0.1, beta2: 1 }), /beta2 must be in \[0, 1\)/);
    assert.throws(() => new SGD([p, p], { lr: 0.1 }), /listed twice/);
    const table = parameter(values(4, 1), [2, 2]);
    const opt = new SGD([table], { lr: 0.1 });
    table.sparse = true;
    table.sparseGrad = [sparsePart([1], [1, 1])];
    assert.throws(() => opt.step(), /was not sparse when the optimizer was built/);
    endStep();
  });

  test("a sparse row id outside the table is an error", () => {
    const table = parameter(values(4, 1), [2, 2], true);
    const opt = new Adagrad([table], { lr: 0.1 });
    table.sparseGrad = [sparsePart([1, 2], [1, 1, 1, 1])];
    assert.throws(() => opt.step(), /row 2 is outside/);
    endStep();
  });
});

// ---- sparse tables --------------------------------------------------------------------------------------

describe("sparse (row-wise) updates", () => {
  const rows = 5;
  const dim = 6; // one SIMD block and a scalar tail per row

  for (const rule of ["sgd", "adagrad"] as const) {
    test(`${rule}: a sparse table ends identical to the same table trained densely`, () => {
      const tables = [true, false].map((sparse) => {
        const table = parameter(f32(values(rows * dim, 9)), [rows, dim], sparse);
        const opt = build(rule, [table], { ...defaults, lr: 0.05, eps: 1e-10 });
        for (const [first, second] of [
          [
            [1, 3, 1],
            [3, 0],
          ],
          [[4], [2, 2, 2]],
          [[0, 1, 2], [4]],
        ]) {
          // Row 1 twice in one lookup, row 3 across two lookups: both must be coalesced.
          for (const ids of [first!, second!]) {
            const e = ops.embedding(table, new Int32Array(ids));
            ops.sum(ops.mul(e, e)).backward();
          }
          opt.step();
          endStep();
        }
        return Array.from(table.data);
      });
      assert.deepEqual(tables[0], tables[1]);
    });
  }

  for (const rule of ["adam", "adamw"] as const) {
    test(`${rule}: sparse table follows the float64 lazy-Adam reference; untouched rows stay bit-identical`, () => {
      const h = { ...defaults, lr: 0.05, weightDecay: 0.2 };
      const start = f32(values(rows * dim, 21));
      const table = parameter(start, [rows, dim], true);
      const opt = build(rule, [table], h);
      const [m, v] = opt.stateTensors() as [Tensor, Tensor];
      const expected = start.slice();
      const st = refState(rows * dim, h);
      const batches = [
        [[0, 2, 0], [2]],
        [[4], [1, 4]],
        [[2, 3], [2]],
      ];
      batches.forEach((parts, step) => {
        const grad = zeros(rows * dim);
        table.sparseGrad = parts.map((ids, k) => {
          const partRows = f32(values(ids.length * dim, 50 + 10 * step + k));
          ids.forEach((id, r) => {
            for (let j = 0; j < dim; j++) grad[id * dim + j]! += partRows[r * dim + j]!;
          });
          return sparsePart(ids, partRows);
        });
        const touched = [...new Set(parts.flat())];
        const which = touched.flatMap((id) => Array.from({ length: dim }, (_, j) => id * dim + j));
        const before = [table, m, v].map((t) => Array.from(t.data));
        opt.step();
        endStep();
        refStep(rule, h, expected, grad, st, step + 1, which);
        assertClose(table.data, expected, 2e-6, `table after step ${step + 1}`);
        assertClose(m.data, st.m, 2e-6, `m after step ${step + 1}`);
        assertClose(v.data, st.v, 2e-6, `v after step ${step + 1}`);
        for (let row = 0; row < rows; row++) {
          if (touched.includes(row)) continue;
          [table, m, v].forEach((t, k) => {
            assert.deepEqual(
              Array.from(t.data.subarray(row * dim, (row + 1) * dim)),
              before[k]!.slice(row * dim, (row + 1) * dim),
              `untouched row ${row} of ${["table", "m", "v"][k]} changed at step ${step + 1}`,
            );
          });
        }
      });
    });
  }

  for (const rule of ["sgd", "adagrad", "adam", "adamw"] as const) {
    test(`${rule}, tableUpdates dense: every row follows the float64 dense reference, untouched rows decaying too`, () => {
      const h = { ...defaults, lr: 0.05, weightDecay: 0.2, momentum: rule === "sgd" ? 0.9 : 0, eps: 1e-8 };
      const start = f32(values(rows * dim, 41));
      const table = parameter(start, [rows, dim], true);
      const opt = build(rule, [table], { ...h, tableUpdates: "dense" } as Hyper);
      assert.equal(opt.tableUpdates, "dense");
      const expected = start.slice();
      const st = refState(rows * dim, h);
      const batches = [[[0, 2, 0]], [[4], [1]], [[2]]];
      batches.forEach((parts, step) => {
        const grad = zeros(rows * dim);
        table.sparseGrad = parts.map((ids, k) => {
          const partRows = f32(values(ids.length * dim, 90 + 10 * step + k));
          ids.forEach((id, r) => {
            for (let j = 0; j < dim; j++) grad[id * dim + j]! += partRows[r * dim + j]!;
          });
          return sparsePart(ids, partRows);
        });
        const before = Array.from(table.data);
        opt.step();
        endStep();
        refStep(rule, h, expected, grad, st, step + 1);
        assertClose(table.data, expected, 2e-6, `table after step ${step + 1}`);
        // Row 3 is never in a batch: weight decay (and, after a step, the moments) still move it.
        const row3 = (t: ArrayLike<number>) => Array.from(t).slice(3 * dim, 4 * dim);
        assert.notDeepEqual(row3(table.data), row3(before), `row 3 did not move at step ${step + 1}`);
      });
    });
  }

  test("tableUpdates must be lazy or dense", () => {
    const table = parameter(values(4, 1), [2, 2], true);
    assert.throws(() => new Adam([table], { lr: 0.1, tableUpdates: "eager" as "lazy" }), /tableUpdates/);
  });

  test("sparse Adam equals dense Adam when every row is touched every step", () => {
    const start = f32(values(rows * dim, 33));
    const dense = parameter(start, [rows, dim]);
    const sparse = parameter(start, [rows, dim], true);
    const optDense = new Adam([dense], { lr: 0.1, weightDecay: 0.1 });
    const optSparse = new Adam([sparse], { lr: 0.1, weightDecay: 0.1 });
    for (let step = 0; step < 3; step++) {
      const grad = f32(values(rows * dim, 70 + step));
      setDenseGrad(dense, grad);
      // Every row once, in a shuffled order.
      const order = [3, 0, 4, 1, 2];
      sparse.sparseGrad = [
        sparsePart(
          order,
          order.flatMap((id) => grad.slice(id * dim, (id + 1) * dim)),
        ),
      ];
      optDense.step();
      optSparse.step();
      endStep();
      assert.deepEqual(Array.from(sparse.data), Array.from(dense.data));
    }
    assert.deepEqual(
      optSparse.stateTensors().map((t) => Array.from(t.data)),
      optDense.stateTensors().map((t) => Array.from(t.data)),
    );
  });

  test("duplicate row ids, within a part or across parts, make one update with the summed gradient", () => {
    const g1 = f32(values(dim, 1));
    const g2 = f32(values(dim, 2));
    const g3 = f32(values(dim, 3));
    const summed = g1.map((x, j) => Math.fround(Math.fround(x + g2[j]!) + g3[j]!));
    const start = f32(values(rows * dim, 4));
    const once = parameter(start, [rows, dim], true);
    const repeated = parameter(start, [rows, dim], true);
    const optOnce = new Adam([once], { lr: 0.1 });
    const optRepeated = new Adam([repeated], { lr: 0.1 });
    once.sparseGrad = [sparsePart([2], summed)];
    repeated.sparseGrad = [sparsePart([2, 2], [...g1, ...g2]), sparsePart([2], g3)];
    optOnce.step();
    optRepeated.step();
    endStep();
    assert.deepEqual(Array.from(repeated.data), Array.from(once.data));
    assert.deepEqual(
      optRepeated.stateTensors().map((t) => Array.from(t.data)),
      optOnce.stateTensors().map((t) => Array.from(t.data)),
    );
  });

  test("sparse SGD momentum and weight decay act on touched rows only", () => {
    const table = parameter([1, 1, 1, 1], [2, 2], true);
    const opt = new SGD([table], { lr: 0.5, momentum: 0.5, weightDecay: 1 });
    table.sparseGrad = [sparsePart([0], [1, 1])];
    opt.step();
    endStep();
    table.sparseGrad = [sparsePart([1], [0, 0])];
    opt.step();
    endStep();
    // Row 0: g = 1 + 1 = 2, b = 2, p = 1 - 0.5·2 = 0; then untouched, so its momentum does not carry on.
    // Row 1: untouched at first; then g = 0 + 1·1 = 1, b = 1, p = 1 - 0.5 = 0.5.
    assert.deepEqual(Array.from(table.data), [0, 0, 0.5, 0.5]);
  });

  test("a sparse table that also received a dense gradient gets one update with both", () => {
    const table = parameter([1, 1, 1, 1], [2, 2], true);
    const opt = new SGD([table], { lr: 1 });
    setDenseGrad(table, [0.25, 0.25, 0, 0]);
    table.sparseGrad = [sparsePart([1, 0], [0.5, 0.5, 0.125, 0.125])];
    opt.step();
    endStep();
    assert.deepEqual(Array.from(table.data), [1 - 0.375, 1 - 0.375, 0.5, 0.5]);
  });
});

// ---- resetRows --------------------------------------------------------------------------------------------

describe("resetRows", () => {
  const rows = 5;
  const dim = 6;

  /** Three lazy-Adam steps on a sparse table touching every row, and dense steps on another parameter. */
  function trained(): { table: Tensor; other: Tensor; opt: Adam } {
    const table = parameter(f32(values(rows * dim, 3)), [rows, dim], true);
    const other = parameter(values(4, 8), [2, 2]);
    const opt = new Adam([other, table], { lr: 0.1 });
    for (let step = 0; step < 3; step++) {
      table.sparseGrad = [sparsePart([4, 0, 2, 1, 3], f32(values(rows * dim, 60 + step)))];
      setDenseGrad(other, values(4, 70 + step));
      opt.step();
      endStep();
    }
    return { table, other, opt };
  }

  const rowOf = (t: Tensor, row: number) => Array.from(t.data.subarray(row * dim, (row + 1) * dim));

  test("returns the given rows of the parameter's state to their initial values, and nothing else", () => {
    const { table, other, opt } = trained();
    const state = opt.stateTensors();
    const before = state.map((t) => Array.from(t.data));
    const params = [table, other].map((t) => Array.from(t.data));
    assert.ok(
      before.every((s) => s.every((x) => x !== 0)),
      "every state element has moved away from 0",
    );
    opt.resetRows(table, [3, 1, 3]);
    const [otherM, otherV, m, v] = state as [Tensor, Tensor, Tensor, Tensor];
    assert.deepEqual(Array.from(otherM.data), before[0]);
    assert.deepEqual(Array.from(otherV.data), before[1]);
    for (let row = 0; row < rows; row++) {
      [m, v].forEach((t, k) => {
        const expected = [1, 3].includes(row) ? zeros(dim) : before[2 + k]!.slice(row * dim, (row + 1) * dim);
        assert.deepEqual(rowOf(t, row), expected, `row ${row} of ${t.name || ["m", "v"][k]}`);
      });
    }
    assert.deepEqual(
      [table, other].map((t) => Array.from(t.data)),
      params,
      "the parameters themselves are left alone",
    );
    assert.equal(opt.stepCount, 3);
  });

  test("a reset row's next update is that of a row without history (lazy Adam at the global step)", () => {
    const { table, opt } = trained();
    opt.resetRows(table, [2]);
    const start = Array.from(table.data);
    const grad = f32(values(dim, 90));
    table.sparseGrad = [sparsePart([2], grad)];
    opt.step();
    endStep();
    const expected = start.slice();
    const st = refState(rows * dim, { ...defaults, lr: 0.1 });
    const full = zeros(rows * dim);
    grad.forEach((g, j) => (full[2 * dim + j] = g));
    const which = Array.from({ length: dim }, (_, j) => 2 * dim + j);
    refStep("adam", { ...defaults, lr: 0.1 }, expected, full, st, 4, which);
    assertClose(table.data, expected, 2e-6, "table after the reset row's step");
  });

  test("Adagrad's accumulator rows go back to initialAccumulator; an optimiser without state has nothing to reset", () => {
    const table = parameter(f32(values(rows * dim, 5)), [rows, dim], true);
    const opt = new Adagrad([table], { lr: 0.1, initialAccumulator: 0.25 });
    table.sparseGrad = [sparsePart([0, 1, 2, 3, 4], f32(values(rows * dim, 6)))];
    opt.step();
    endStep();
    const [sum] = opt.stateTensors() as [Tensor];
    const before = Array.from(sum.data);
    opt.resetRows(table, [0]);
    assert.deepEqual(rowOf(sum, 0), new Array<number>(dim).fill(0.25));
    assert.deepEqual(Array.from(sum.data.subarray(dim)), before.slice(dim));
    const plain = new SGD([table], { lr: 0.1 });
    plain.resetRows(table, [0, 4]);
    assert.equal(plain.stateTensors().length, 0);
  });

  test("refuses a tensor that is not its parameter, one that is not a table, and rows outside it", () => {
    const { table, opt } = trained();
    const stranger = parameter(values(rows * dim, 1), [rows, dim], true);
    assert.throws(() => opt.resetRows(stranger, [0]), /is not one of its parameters/);
    const vector = parameter([1, 2, 3]);
    assert.throws(() => new SGD([vector], { lr: 0.1, momentum: 0.9 }).resetRows(vector, [0]), /needs a \[rows, dim\]/);
    for (const row of [rows, -1, 1.5, Number.NaN]) {
      assert.throws(() => opt.resetRows(table, [row]), /row .* is outside \[5, 6\]'s 5 rows/, String(row));
    }
    opt.resetRows(table, []);
  });
});
