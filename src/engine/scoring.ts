/**
 * Scores of the rows of an f32 table [rows, dim] against one vector [dim]: the exact dot products a
 * dot-product model ranks by (Int8Table.scoreAll/scoreRows are the same for an int8 table). The vector
 * is a Float32Array or a tensor of dim values (a tensor's memory is read in place).
 *
 * Each call takes its buffers from the heap and gives them back before it returns, so it neither uses
 * nor ends the caller's scratch step: scratch tensors alive before the call stay valid after it.
 */
import type { Ptr } from "./kernel-table.js";
import type { Runtime } from "./runtime.js";
import { Tensor } from "./tensor.js";

/** A vector to score against: its values, or a tensor holding them. */
export type ScoreVector = Float32Array | Tensor;

function tableShape(table: Tensor, vector: ScoreVector, fn: string): [number, number] {
  if (table.shape.length !== 2) throw new RangeError(`${fn}: the table must be [rows, dim], got [${table.shape}]`);
  const [rows, dim] = table.shape as [number, number];
  // A tensor's .data also refuses a scratch tensor released by endStep().
  const length = vector instanceof Tensor ? vector.data.length : vector.length;
  if (length !== dim) throw new RangeError(`${fn}: the vector has ${length} values, the table's rows ${dim}`);
  return [rows, dim];
}

/** The vector's pointer: a tensor's own, or `block` after copying the values there. */
function place(rt: Runtime, vector: ScoreVector, block: Ptr): Ptr {
  if (vector instanceof Tensor) return vector.ptr;
  rt.f32.set(vector, block >>> 2);
  return block;
}

/** Run `f` over fresh heap blocks of the given byte sizes, then release them. */
function withBlocks<T>(rt: Runtime, sizes: readonly number[], f: (ptrs: Ptr[]) => T): T {
  const ptrs = sizes.map((bytes) => rt.alloc(bytes));
  try {
    return f(ptrs);
  } finally {
    ptrs.forEach((ptr, i) => rt.free(ptr, sizes[i]!));
  }
}

/** Scores of every row of `table` [rows, dim] against `vector` [dim]. */
export function scoreAllRows(table: Tensor, vector: ScoreVector): Float32Array {
  const [rows, dim] = tableShape(table, vector, "scoreAllRows");
  const rt = table.rt;
  return withBlocks(rt, [dim * 4, rows * 4], ([q, out]) => {
    rt.kernels.matVec(table.ptr, place(rt, vector, q!), rows, dim, out!);
    return rt.f32.slice(out! >>> 2, (out! >>> 2) + rows);
  });
}

/** Scores of the given rows of `table` (any order, repeats allowed) against `vector`: scoreAllRows's values at `rows`. */
export function scoreTableRows(table: Tensor, vector: ScoreVector, rows: Int32Array): Float32Array {
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
    const v = place(rt, vector, q!);
    rt.i32.set(rows, idx! >>> 2);
    rt.kernels.gather(table.ptr, idx!, n, dim, gathered!);
    rt.kernels.matVec(gathered!, v, n, dim, out!);
    return rt.f32.slice(out! >>> 2, (out! >>> 2) + n);
  });
}

/**
 * Scores of several vectors, each against its own rows of `table`: vector k (row k of `vectors`, [n, dim]
 * row-major) against the rows lists[k]: one kernel pass for every list together.
 */
export function scoreTableLists(table: Tensor, vectors: Float32Array, lists: readonly Int32Array[]): Float32Array[] {
  if (table.shape.length !== 2)
    throw new RangeError(`scoreTableLists: the table must be [rows, dim], got [${table.shape}]`);
  const [count, dim] = table.shape as [number, number];
  if (vectors.length !== lists.length * dim) {
    throw new RangeError(`scoreTableLists: ${vectors.length / dim} vectors of ${dim} for ${lists.length} lists`);
  }
  let total = 0;
  for (const list of lists) total += list.length;
  const rt = table.rt;
  const sizes = [vectors.length * 4, total * 4, total * 4, total * 4];
  return withBlocks(rt, sizes, ([v, idx, own, out]) => {
    // The lists go straight into the kernel's buffers (the views are safe: nothing allocates meanwhile).
    rt.f32.set(vectors, v! >>> 2);
    const rows = rt.i32.subarray(idx! >>> 2, (idx! >>> 2) + total);
    const owner = rt.i32.subarray(own! >>> 2, (own! >>> 2) + total);
    let at = 0;
    lists.forEach((list, k) => {
      rows.set(list, at);
      owner.fill(k, at, (at += list.length));
    });
    for (let j = 0; j < total; j++) {
      const r = rows[j]!;
      if (!(r >= 0 && r < count)) {
        throw new RangeError(`scoreTableLists: row ${r} of list ${owner[j]} is outside the table's ${count} rows`);
      }
    }
    rt.kernels.dotIndexed(table.ptr, idx!, v!, own!, total, dim, out!);
    const scores = rt.f32.slice(out! >>> 2, (out! >>> 2) + total);
    let from = 0;
    return lists.map((list) => scores.subarray(from, (from += list.length)));
  });
}
