/**
 * Scores of the rows of an f32 table [rows, dim] against one vector [dim]: the exact dot products a
 * dot-product model ranks by (Int8Table.scoreAll/scoreRows are the same for an int8 table).
 *
 * Each call takes its buffers from the heap and gives them back before it returns, so it neither uses
 * nor ends the caller's scratch step: scratch tensors alive before the call stay valid after it.
 */
import type { Runtime } from "./runtime.js";
import type { Tensor } from "./tensor.js";

function tableShape(table: Tensor, vector: Float32Array, fn: string): [number, number] {
  if (table.shape.length !== 2) throw new RangeError(`${fn}: the table must be [rows, dim], got [${table.shape}]`);
  const [rows, dim] = table.shape as [number, number];
  if (vector.length !== dim)
    throw new RangeError(`${fn}: the vector has ${vector.length} values, the table's rows ${dim}`);
  return [rows, dim];
}

/** Run `f` over fresh heap blocks of the given byte sizes, then release them. */
function withBlocks<T>(rt: Runtime, sizes: readonly number[], f: (ptrs: number[]) => T): T {
  const ptrs = sizes.map((bytes) => rt.alloc(bytes));
  try {
    return f(ptrs);
  } finally {
    ptrs.forEach((ptr, i) => rt.free(ptr, sizes[i]!));
  }
}

/** Scores of every row of `table` [rows, dim] against `vector` [dim]. */
export function scoreAllRows(table: Tensor, vector: Float32Array): Float32Array {
  const [rows, dim] = tableShape(table, vector, "scoreAllRows");
  const rt = table.rt;
  return withBlocks(rt, [dim * 4, rows * 4], ([q, out]) => {
    rt.f32.set(vector, q! >>> 2);
    rt.kernels.matVec(table.ptr, q!, rows, dim, out!);
    return rt.f32.slice(out! >>> 2, (out! >>> 2) + rows);
  });
}

/** Scores of the given rows of `table` (any order, repeats allowed) against `vector`: scoreAllRows's values at `rows`. */
export function scoreTableRows(table: Tensor, vector: Float32Array, rows: Int32Array): Float32Array {
  const [count, dim] = tableShape(table, vector, "scoreTableRows");
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    if (!(r >= 0 && r < count)) {
      throw new RangeError(`scoreTableRows: row ${r} at position ${k} is outside the table's ${count} rows`);
    }
  }
  const rt = table.rt;
  const n = rows.length;
  return withBlocks(rt, [dim * 4, n * 4, n * dim * 4, n * 4], ([q, idx, gathered, out]) => {
    rt.f32.set(vector, q! >>> 2);
    rt.i32.set(rows, idx! >>> 2);
    rt.kernels.gather(table.ptr, idx!, n, dim, gathered!);
    rt.kernels.matVec(gathered!, q!, n, dim, out!);
    return rt.f32.slice(out! >>> 2, (out! >>> 2) + n);
  });
}
