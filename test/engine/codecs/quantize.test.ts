import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Int8Table,
  dequantizeInt8,
  fromFloat16,
  quantizeInt8,
  toFloat16,
  type Int8Matrix,
} from "../../../src/engine/index.js";
import { Rng } from "../../../src/engine/random.js";
import { runtime } from "../../../src/engine/runtime.js";
import { endStep } from "../../../src/engine/tensor.js";

function randomTable(rows: number, dim: number, seed: number, std = 1): Float32Array {
  const rng = new Rng(seed);
  const values = new Float32Array(rows * dim);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return values;
}

/** The float32 kernel the int8 one stands in for. */
function fp32MatVec(table: Float32Array, rows: number, dim: number, query: Float32Array): Float32Array {
  const rt = runtime();
  const m = rt.scratchF32(table);
  const x = rt.scratchF32(query);
  const out = rt.scratch.alloc(rows * 4);
  rt.kernels.matVec(m, x, rows, dim, out);
  const scores = rt.f32.slice(out >>> 2, (out >>> 2) + rows);
  endStep();
  return scores;
}

/** Every row's int8 score against `query`, from a table made resident for this one call. */
function scoreOnce(q: Int8Matrix, query: Float32Array): Float32Array {
  const table = new Int8Table(q);
  try {
    return table.scoreAll(query);
  } finally {
    table.dispose();
  }
}

/** The kernel's result computed exactly: the int8 dot product in integers, times both scales in float32. */
function exactInt8Score(q: Int8Matrix, row: number, query: Float32Array): number {
  const x = quantizeInt8(query, 1, q.dim);
  let dot = 0;
  for (let k = 0; k < q.dim; k++) dot += q.data[row * q.dim + k]! * x.data[k]!;
  const scale = q.scales[Math.floor(row / q.rowsPerScale)]!;
  return Math.fround(Math.fround(dot) * Math.fround(scale * x.scales[0]!));
}

describe("int8 quantisation", () => {
  test("dequantised values are within half a row scale of the originals", () => {
    const rows = 20;
    const dim = 37;
    const values = randomTable(rows, dim, 1, 3);
    const q = quantizeInt8(values, rows, dim);
    const back = dequantizeInt8(q);
    for (let r = 0; r < rows; r++) {
      const scale = q.scales[r]!;
      for (let k = r * dim; k < (r + 1) * dim; k++) {
        // Slack only for the float32 rounding of the stored product.
        const bound = (scale / 2) * (1 + 1e-6) + Math.abs(values[k]!) * 2 ** -23;
        assert.ok(Math.abs(back[k]! - values[k]!) <= bound, `row ${r}, element ${k}: ${values[k]} → ${back[k]}`);
      }
    }
  });

  test("every non-zero row uses the full symmetric range and never -128", () => {
    const values = randomTable(30, 16, 2);
    const q = quantizeInt8(values, 30, 16);
    for (let r = 0; r < 30; r++) {
      const row = q.data.subarray(r * 16, (r + 1) * 16);
      assert.equal(Math.max(...Array.from(row, Math.abs)), 127);
      assert.ok(row.every((v) => v >= -127));
    }
  });

  test("row norms survive quantisation", () => {
    const rows = 50;
    const dim = 64;
    const values = randomTable(rows, dim, 3);
    const q = quantizeInt8(values, rows, dim);
    const back = dequantizeInt8(q);
    for (let r = 0; r < rows; r++) {
      const norm = Math.hypot(...values.subarray(r * dim, (r + 1) * dim));
      const normBack = Math.hypot(...back.subarray(r * dim, (r + 1) * dim));
      // | ‖a‖ − ‖b‖ | ≤ ‖a − b‖ ≤ √dim · scale / 2
      assert.ok(Math.abs(norm - normBack) <= (Math.sqrt(dim) * q.scales[r]!) / 2);
      assert.ok(Math.abs(norm - normBack) / norm < 0.01, `row ${r}: ${norm} vs ${normBack}`);
    }
  });

  test("zero rows get scale 0 and decode to exact zeros", () => {
    const values = randomTable(3, 5, 4);
    values.fill(0, 5, 10);
    const q = quantizeInt8(values, 3, 5);
    assert.equal(q.scales[1], 0);
    assert.deepEqual(Array.from(q.data.subarray(5, 10)), [0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(dequantizeInt8(q).subarray(5, 10)), [0, 0, 0, 0, 0]);
    assert.ok(q.scales[0]! > 0 && q.scales[2]! > 0);
  });

  test("rejects mismatched shapes and non-finite values", () => {
    assert.throws(() => quantizeInt8(new Float32Array(5), 2, 3), /5 values for shape \[2, 3\]/);
    assert.throws(() => quantizeInt8(new Float32Array(0), -1, 0), /invalid shape/);
    assert.throws(() => quantizeInt8(new Float32Array([1, NaN]), 1, 2), /non-finite value NaN in row 0/);
  });

  test("int8 storage takes 1/4 + 1/dim of fp32, at most 27% from dim 50", () => {
    for (const dim of [16, 50, 64, 100, 256]) {
      const rows = 12;
      const q = quantizeInt8(randomTable(rows, dim, dim), rows, dim);
      const bytes = q.data.byteLength + q.scales.byteLength;
      assert.equal(bytes, rows * dim + 4 * rows);
      const ratio = bytes / (4 * rows * dim);
      assert.ok(Math.abs(ratio - (0.25 + 1 / dim)) < 1e-12);
      if (dim >= 50) assert.ok(ratio <= 0.27, `dim ${dim}: ${ratio}`);
    }
  });
});

describe("fp16 storage", () => {
  test("round trip is within half an fp16 ulp", () => {
    const values = new Float32Array(2000);
    const rng = new Rng(5);
    for (let i = 0; i < values.length; i++) values[i] = rng.normal() * 2 ** (rng.int(36) - 24); // up to ~2^13, inside the fp16 range
    const back = fromFloat16(toFloat16(values));
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      // Normal halves carry 11 significant bits; below 2^-14 the spacing is a fixed 2^-24.
      const bound = Math.max(Math.abs(v) * 2 ** -11, 2 ** -25);
      assert.ok(Math.abs(back[i]! - v) <= bound, `${v} → ${back[i]}`);
    }
  });

  test("exact cases: 0, 1, 65504, subnormals and ties to even", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00], // halfway past the largest half rounds up to infinity
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
      [2 ** -25, 0x0000], // tie between 0 and 2^-24 → even (0)
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units → even (2)
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2^-10 → even
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 1 + 2^-10 and 1 + 2^-9 → even
    ];
    const halves = toFloat16(new Float32Array(cases.map(([v]) => v)));
    assert.deepEqual(
      Array.from(halves),
      cases.map(([, bits]) => bits),
    );
    const back = fromFloat16(new Uint16Array([0x0000, 0x8000, 0x3c00, 0x7bff, 0x0001, 0x03ff]));
    assert.deepEqual(Array.from(back), [0, -0, 1, 65504, 2 ** -24, 2 ** -14 - 2 ** -24]);
  });
});

describe("int8 scoring kernel", () => {
  // Multiples of 16 (SIMD only), of 8 (one half step) and neither (scalar tail).
  const dims = [1, 7, 8, 15, 16, 17, 24, 31, 32, 50, 64, 100];

  for (const dim of dims) {
    test(`matches the exact int8 dot product times both scales (dim ${dim})`, () => {
      const rows = 9;
      const q = quantizeInt8(randomTable(rows, dim, 10 + dim), rows, dim);
      const query = randomTable(1, dim, 100 + dim);
      const scores = scoreOnce(q, query);
      for (let r = 0; r < rows; r++) assert.equal(scores[r], exactInt8Score(q, r, query), `row ${r}`);
    });

    test(`agrees with the fp32 matVec within the quantisation bound (dim ${dim})`, () => {
      const rows = 25;
      const table = randomTable(rows, dim, 20 + dim, 0.5);
      const query = randomTable(1, dim, 200 + dim, 2);
      const q = quantizeInt8(table, rows, dim);
      const xScale = quantizeInt8(query, 1, dim).scales[0]!;
      const scores = scoreOnce(q, query);
      const reference = fp32MatVec(table, rows, dim, query);
      for (let r = 0; r < rows; r++) {
        let sumW = 0;
        let sumX = 0;
        let sumWX = 0;
        for (let k = 0; k < dim; k++) {
          const w = Math.abs(table[r * dim + k]!);
          const x = Math.abs(query[k]!);
          sumW += w;
          sumX += x;
          sumWX += w * x;
        }
        // (w − e)(x − d) with |e| ≤ s_r/2, |d| ≤ s_x/2, plus float32 rounding of both sides.
        const s = q.scales[r]!;
        const bound = (s / 2) * sumX + (xScale / 2) * sumW + (dim * s * xScale) / 4 + 1e-5 * sumWX;
        assert.ok(Math.abs(scores[r]! - reference[r]!) <= bound, `row ${r}: ${scores[r]} vs ${reference[r]}`);
      }
    });
  }

  test("zero rows and a zero query score 0", () => {
    const dim = 19;
    const table = randomTable(4, dim, 7);
    table.fill(0, dim, 2 * dim);
    const q = quantizeInt8(table, 4, dim);
    const scores = scoreOnce(q, randomTable(1, dim, 8));
    assert.equal(scores[1], 0);
    assert.ok(scores.some((v) => v !== 0));
    assert.deepEqual(Array.from(scoreOnce(q, new Float32Array(dim))), [0, 0, 0, 0]);
  });
});

describe("Int8Table", () => {
  test("rows sharing a scale score with their group's scale", () => {
    const rows = 11;
    const dim = 20;
    const q = quantizeInt8(randomTable(rows, dim, 30), rows, dim, { rowsPerScale: 3 });
    const query = randomTable(1, dim, 31);
    const scores = scoreOnce(q, query);
    for (let r = 0; r < rows; r++) assert.equal(scores[r], exactInt8Score(q, r, query), `row ${r}`);
  });

  for (const dim of [7, 16, 33]) {
    test(`scoreRows gives scoreAll's values at the rows, in their order, repeats included (dim ${dim})`, () => {
      const q = quantizeInt8(randomTable(40, dim, 40 + dim), 40, dim);
      const table = new Int8Table(q);
      const query = randomTable(1, dim, 41);
      const all = table.scoreAll(query);
      const rows = new Int32Array([39, 0, 17, 17, 5, 39]);
      assert.deepEqual(
        Array.from(table.scoreRows(query, rows)),
        Array.from(rows, (r) => all[r]!),
      );
      assert.deepEqual(Array.from(table.scoreRows(query, new Int32Array(0))), []);
      table.dispose();
    });
  }

  test("keeps its own copy: later changes to the source matrix do not change the scores", () => {
    const q = quantizeInt8(randomTable(6, 12, 50), 6, 12);
    const table = new Int8Table(q);
    const query = randomTable(1, 12, 51);
    const before = table.scoreAll(query);
    q.data.fill(0);
    q.scales.fill(0);
    assert.deepEqual(table.scoreAll(query), before);
    table.dispose();
  });

  test("toMatrix gives back the codes and scales it was built from", () => {
    for (const rowsPerScale of [1, 4]) {
      const q = quantizeInt8(randomTable(10, 5, 60), 10, 5, { rowsPerScale });
      const table = new Int8Table(q);
      assert.deepEqual(table.toMatrix(), q);
      table.dispose();
    }
  });

  test("refuses a query of the wrong width, rows outside the table, an inconsistent matrix and use after dispose", () => {
    const table = new Int8Table(quantizeInt8(randomTable(2, 3, 70), 2, 3));
    assert.throws(() => table.scoreAll(new Float32Array(4)), /query has 4 values for a table of dim 3/);
    assert.throws(
      () => table.scoreRows(new Float32Array(3), new Int32Array([1, 2])),
      /row 2 at position 1 is outside the table's 2 rows/,
    );
    assert.throws(() => table.scoreRows(new Float32Array(3), new Int32Array([-1])), /row -1 at position 0/);
    const broken = { data: new Int8Array(5), scales: new Float32Array(2), rows: 2, dim: 3, rowsPerScale: 1 };
    assert.throws(() => new Int8Table(broken), /5 codes and 2 scales do not fit \[2, 3\]/);
    table.dispose();
    assert.throws(() => table.scoreAll(new Float32Array(3)), /used after dispose/);
    assert.throws(() => table.toMatrix(), /used after dispose/);
  });

  test("a second dispose frees nothing twice: two later tables get memory of their own", () => {
    const disposed = new Int8Table(quantizeInt8(randomTable(2, 3, 80), 2, 3));
    disposed.dispose();
    disposed.dispose();
    const query = randomTable(1, 3, 81);
    const first = new Int8Table(quantizeInt8(randomTable(2, 3, 82), 2, 3));
    const expected = first.scoreAll(query);
    const second = new Int8Table(quantizeInt8(randomTable(2, 3, 83), 2, 3));
    assert.notDeepEqual(second.scoreAll(query), expected);
    assert.deepEqual(first.scoreAll(query), expected);
    first.dispose();
    second.dispose();
  });
});
