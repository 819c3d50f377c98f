// Row kernels for embedding tables: gather, scatter-add, and batched row dot products.

import { addRow, dotLanes } from "./rows";

/** out[r, :] = table[idx[r], :] for r < n */
export function gather(table: usize, idx: usize, n: i32, dim: i32, out: usize): void {
  const rowBytes = (<usize>dim) << 2;
  for (let r = 0; r < n; r++) {
    const src = table + (<usize>load<i32>(idx + ((<usize>r) << 2))) * rowBytes;
    memory.copy(out + (<usize>r) * rowBytes, src, rowBytes);
  }
}

/** table[idx[r], :] += rows[r, :] for r < n (duplicates accumulate) */
export function scatterAdd(rows: usize, idx: usize, n: i32, dim: i32, table: usize): void {
  const rowBytes = (<usize>dim) << 2;
  for (let r = 0; r < n; r++) {
    const dst = table + (<usize>load<i32>(idx + ((<usize>r) << 2))) * rowBytes;
    addRow(dst, rows + (<usize>r) * rowBytes, dim);
  }
}

@inline
function dotRow(a: usize, b: usize, dim: i32): f32 {
  const acc = dotLanes(a, b, dim);
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (let j = dim & ~3; j < dim; j++) {
    const o = (<usize>j) << 2;
    s += load<f32>(a + o) * load<f32>(b + o);
  }
  return s;
}

/** out[r] = dot(a[r, :], b[r, :]) for r < n */
export function rowDot(a: usize, b: usize, n: i32, dim: i32, out: usize): void {
  const rowBytes = (<usize>dim) << 2;
  for (let r = 0; r < n; r++) {
    const o = (<usize>r) * rowBytes;
    store<f32>(out + ((<usize>r) << 2), dotRow(a + o, b + o, dim));
  }
}

/** out[r] = dot(m[r, :], q) for r < n: scores of every row against one query (catalogue scan) */
export function matVec(m: usize, q: usize, n: i32, dim: i32, out: usize): void {
  const rowBytes = (<usize>dim) << 2;
  for (let r = 0; r < n; r++) store<f32>(out + ((<usize>r) << 2), dotRow(m + (<usize>r) * rowBytes, q, dim));
}

/**
 * out[j] = dot(table[rows[j], :], queries[owners[j], :]) for j < n: many queries, each against its own rows
 * (batched candidate scoring), without gathering either side.
 */
export function dotIndexed(table: usize, rows: usize, queries: usize, owners: usize, n: i32, dim: i32, out: usize): void {
  const rowBytes = (<usize>dim) << 2;
  for (let j = 0; j < n; j++) {
    const o = (<usize>j) << 2;
    const row = table + (<usize>load<i32>(rows + o)) * rowBytes;
    const query = queries + (<usize>load<i32>(owners + o)) * rowBytes;
    store<f32>(out + o, dotRow(row, query, dim));
  }
}

/** out[r, :] (+)= s[r] * x[r, :]; accumulates when `acc` is non-zero */
export function rowScale(x: usize, s: usize, n: i32, dim: i32, out: usize, acc: i32): void {
  const rowBytes = (<usize>dim) << 2;
  for (let r = 0; r < n; r++) {
    const sv = f32x4.splat(load<f32>(s + ((<usize>r) << 2)));
    const sr = load<f32>(s + ((<usize>r) << 2));
    const xr = x + (<usize>r) * rowBytes;
    const orow = out + (<usize>r) * rowBytes;
    let j = 0;
    if (acc) {
      for (; j + 4 <= dim; j += 4) {
        const o = (<usize>j) << 2;
        v128.store(orow + o, f32x4.add(v128.load(orow + o), f32x4.mul(v128.load(xr + o), sv)));
      }
      for (; j < dim; j++) {
        const o = (<usize>j) << 2;
        store<f32>(orow + o, load<f32>(orow + o) + sr * load<f32>(xr + o));
      }
    } else {
      for (; j + 4 <= dim; j += 4) {
        const o = (<usize>j) << 2;
        v128.store(orow + o, f32x4.mul(v128.load(xr + o), sv));
      }
      for (; j < dim; j++) {
        const o = (<usize>j) << 2;
        store<f32>(orow + o, sr * load<f32>(xr + o));
      }
    }
  }
}
