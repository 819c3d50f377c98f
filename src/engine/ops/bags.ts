// Embedding bags: pooling variable-length lists of rows (sum, mean, attention), PyTorch EmbeddingBag style.
import { Tensor, accumulate, accumulateSparse, record } from "../tensor.js";
import { Ids } from "./embedding.js";

export type BagMode = "sum" | "mean";

function toIds(values: Int32Array | Ids): Ids {
  return values instanceof Ids ? values : new Ids(values);
}

/** Offsets must start at 0 and never decrease or pass `n`: bag b is [offsets[b], offsets[b+1]), the last ends at n. */
function checkOffsets(op: string, offsets: Int32Array, n: number): void {
  if (offsets.length === 0 && n > 0) throw new RangeError(`${op}: ${n} rows given but no bags (offsets is empty)`);
  if (offsets.length > 0 && offsets[0] !== 0) {
    throw new RangeError(`${op}: offsets must start at 0, got ${offsets[0]}`);
  }
  for (let b = 1; b < offsets.length; b++) {
    const start = offsets[b]!;
    if (start < offsets[b - 1]! || start > n) {
      throw new RangeError(`${op}: offset ${start} of bag ${b} must lie in [${offsets[b - 1]}, ${n}]`);
    }
  }
}

/**
 * Pool bags of table rows: `ids` is every bag's ids back to back, bag b is ids[offsets[b] .. offsets[b+1])
 * and the last bag ends at ids.length; output [bags, dim], zero for empty bags. The table's gradient is
 * sparse rows (one per id) when `table.sparse`, otherwise dense.
 */
export function embeddingBag(
  table: Tensor,
  ids: Int32Array | Ids,
  offsets: Int32Array | Ids,
  mode: BagMode = "sum",
): Tensor {
  if (table.shape.length !== 2)
    throw new RangeError(`embeddingBag: table must be [rows, dim], got [${table.shape.join(", ")}]`);
  const [rows, dim] = table.shape as [number, number];
  const idx = toIds(ids);
  const off = toIds(offsets);
  for (let i = 0; i < idx.length; i++) {
    const v = idx.values[i]!;
    if (v < 0 || v >= rows) {
      throw new RangeError(`embeddingBag: id ${v} at position ${i} is outside the table's ${rows} rows`);
    }
  }
  checkOffsets("embeddingBag", off.values, idx.length);
  const k = table.rt.kernels;
  const mean = mode === "mean" ? 1 : 0;
  const bags = off.length;
  const out = Tensor.empty([bags, dim]);
  k.embeddingBag(table.ptr, idx.ptr, idx.length, off.ptr, bags, dim, mean, out.ptr);
  return record(out, [table], (g) => {
    const perId = Tensor.empty([idx.length, dim]);
    k.embeddingBagBackward(g.ptr, idx.length, off.ptr, bags, dim, mean, perId.ptr);
    if (table.sparse) {
      accumulateSparse(table, { indices: idx.ptr, rows: perId.ptr, count: idx.length });
    } else {
      const gt = Tensor.zeros(table.shape);
      k.scatterAdd(perId.ptr, idx.ptr, idx.length, dim, gt.ptr);
      accumulate(table, gt);
    }
  });
}

/**
 * Attention pooling over bags of rows: for bag b, weights = softmax over the bag's rows of
 * values[i] · query_b / sqrt(dim), output[b] = Σ weights_i values[i]; output [bags, dim], zero for empty
 * bags. `query` is [bags, dim] (one per bag, e.g. DIN target attention) or [dim] (shared, e.g. a learned
 * query). Differentiable in `values` and `query`.
 */
export function attentionPool(values: Tensor, offsets: Int32Array | Ids, query: Tensor): Tensor {
  if (values.shape.length !== 2) {
    throw new RangeError(`attentionPool: values must be [n, dim], got [${values.shape.join(", ")}]`);
  }
  const [n, dim] = values.shape as [number, number];
  const off = toIds(offsets);
  const bags = off.length;
  const shared = query.shape.length === 1 && query.shape[0] === dim;
  const perBag = query.shape.length === 2 && query.shape[0] === bags && query.shape[1] === dim;
  if (!shared && !perBag) {
    throw new RangeError(
      `attentionPool: query must be [${dim}] or [${bags}, ${dim}] for values [${values.shape.join(", ")}] in ${bags} bags, got [${query.shape.join(", ")}]`,
    );
  }
  checkOffsets("attentionPool", off.values, n);
  const k = values.rt.kernels;
  const queryStride = shared ? 0 : dim;
  const scale = 1 / Math.sqrt(dim);
  const weights = Tensor.empty([n]);
  const out = Tensor.empty([bags, dim]);
  k.attentionPool(values.ptr, n, off.ptr, bags, query.ptr, queryStride, dim, scale, weights.ptr, out.ptr);
  return record(out, [values, query], (g) => {
    // Every row of `values` belongs to exactly one bag, so the kernel writes all of gradValues.
    const gradValues = values.requiresGrad ? Tensor.empty(values.shape) : null;
    const gradQuery = query.requiresGrad ? Tensor.zeros(query.shape) : null;
    k.attentionPoolBackward(
      values.ptr,
      n,
      off.ptr,
      bags,
      query.ptr,
      queryStride,
      dim,
      scale,
      weights.ptr,
      out.ptr,
      g.ptr,
      gradValues?.ptr ?? 0,
      gradQuery?.ptr ?? 0,
    );
    if (gradValues) accumulate(values, gradValues);
    if (gradQuery) accumulate(query, gradQuery);
  });
}
