import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runtime } from "../../src/engine/runtime.js";
import { scoreAllRows, scoreTableRows } from "../../src/engine/scoring.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";

const ROWS = 37;
const DIM = 12;

function values(count: number, seed: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => Math.sin(seed * 97 + i * 1.7));
}

describe("table scoring", () => {
  const table = Tensor.from(values(ROWS * DIM, 1), [ROWS, DIM], { persistent: true });
  const vector = values(DIM, 2);

  test("scores every row by its dot product with the vector", () => {
    const scores = scoreAllRows(table, vector);
    assert.equal(scores.length, ROWS);
    const data = table.data;
    for (let r = 0; r < ROWS; r++) {
      let want = 0;
      for (let j = 0; j < DIM; j++) want += data[r * DIM + j]! * vector[j]!;
      assert.ok(Math.abs(scores[r]! - want) < 1e-5, `row ${r}: ${scores[r]} vs ${want}`);
    }
  });

  test("given rows get exactly the full scan's scores, in their order, repeats allowed", () => {
    const all = scoreAllRows(table, vector);
    const rows = new Int32Array([5, 0, 36, 5, 17]);
    assert.deepEqual(
      scoreTableRows(table, vector, rows),
      Float32Array.from(rows, (r) => all[r]!),
    );
    assert.deepEqual(scoreTableRows(table, vector, new Int32Array(0)), new Float32Array(0));
  });

  test("leaves the caller's scratch step alone", () => {
    const live = Tensor.from(values(8, 3));
    const before = live.data.slice();
    const epoch = runtime().scratch.epoch;
    scoreAllRows(table, vector);
    scoreTableRows(table, vector, new Int32Array([1, 2, 3]));
    assert.equal(runtime().scratch.epoch, epoch);
    assert.deepEqual(live.data, before);
    endStep();
  });

  test("a tensor holding the vector (a [1, dim] row too) scores as its values do", () => {
    const all = scoreAllRows(table, vector);
    const row = Tensor.from(vector, [1, DIM]);
    assert.deepEqual(scoreAllRows(table, row), all);
    assert.deepEqual(
      scoreTableRows(table, row, new Int32Array([3, 30, 3])),
      Float32Array.from([3, 30, 3], (r) => all[r]!),
    );
    endStep();
    assert.throws(() => scoreAllRows(table, row), /used after endStep/);
  });

  test("refuses rows outside the table and vectors of another length", () => {
    assert.throws(() => scoreTableRows(table, vector, new Int32Array([ROWS])), /row 37 at position 0/);
    assert.throws(() => scoreAllRows(table, values(DIM + 1, 4)), /13 values/);
  });
});
