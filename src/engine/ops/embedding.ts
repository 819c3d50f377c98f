// Embedding lookups with sparse row gradients, and batched row dot products.
import { runtime } from "../runtime.js";
import { Tensor, accumulate, accumulateSparse, record } from "../tensor.js";

/** Ids of a batch, copied into scratch memory once and shared by every op that reads them. */
export class Ids {
  readonly ptr: number;
  readonly length: number;
  constructor(readonly values: Int32Array) {
    this.ptr = runtime().scratchI32(values);
    this.length = values.length;
  }
}

function checkIds(table: Tensor, ids: Int32Array): void {
  const rows = table.shape[0]!;
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (v < 0 || v >= rows || !Number.isInteger(v)) {
      throw new RangeError(`embedding: id ${v} at position ${i} is outside the table's ${rows} rows`);
    }
  }
}

/**
 * Look up rows of `table` ([rows, dim]) for `ids`: output [ids.length, dim]. The backward pass hands
 * the table its gradient as sparse rows, so a step costs O(batch × dim), not O(rows × dim).
 */
export function embedding(table: Tensor, ids: Int32Array | Ids): Tensor {
  const idx = ids instanceof Ids ? ids : new Ids(ids);
  checkIds(table, idx.values);
  const dim = table.shape[1]!;
  const out = Tensor.empty([idx.length, dim]);
  table.rt.kernels.gather(table.ptr, idx.ptr, idx.length, dim, out.ptr);
  return record(out, [table], (g) => {
    if (table.sparse) {
      accumulateSparse(table, { indices: idx.ptr, rows: g.ptr, count: idx.length });
    } else {
      const gt = Tensor.zeros(table.shape);
      table.rt.kernels.scatterAdd(g.ptr, idx.ptr, idx.length, dim, gt.ptr);
      accumulate(table, gt);
    }
  });
}

/** out[r] = dot(a[r, :], b[r, :]): [n, dim] × [n, dim] → [n] */
export function rowDot(a: Tensor, b: Tensor): Tensor {
  const [n, dim] = a.shape as [number, number];
  if (a.shape.length !== 2 || b.shape[0] !== n || b.shape[1] !== dim) {
    throw new RangeError(`rowDot: shapes [${a.shape.join(", ")}] and [${b.shape.join(", ")}] must be equal [n, dim]`);
  }
  const k = a.rt.kernels;
  const out = Tensor.empty([n]);
  k.rowDot(a.ptr, b.ptr, n, dim, out.ptr);
  return record(out, [a, b], (g) => {
    if (a.requiresGrad) {
      const ga = Tensor.empty(a.shape);
      k.rowScale(b.ptr, g.ptr, n, dim, ga.ptr, 0);
      accumulate(a, ga);
    }
    if (b.requiresGrad) {
      const gb = Tensor.empty(b.shape);
      k.rowScale(a.ptr, g.ptr, n, dim, gb.ptr, 0);
      accumulate(b, gb);
    }
  });
}
