// Reductions over a row-major [rows, n] view: per row, per column, and dot products.

import { dotLanes } from "./rows";

/** out[r] = sum_j x[r, j] */
export function sumLastDim(x: usize, rows: i32, n: i32, out: usize): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r) * rowBytes;
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) acc = f32x4.add(acc, v128.load(xr + ((<usize>j) << 2)));
    let s =
      f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < n; j++) s += load<f32>(xr + ((<usize>j) << 2));
    store<f32>(out + ((<usize>r) << 2), s);
  }
}

/** out[j] = sum_r x[r, j] (column sums, e.g. a bias gradient) */
export function sumRows(x: usize, rows: i32, n: i32, out: usize): void {
  const rowBytes = (<usize>n) << 2;
  memory.fill(out, 0, rowBytes);
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r) * rowBytes;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(xr + o)));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(out + o, load<f32>(out + o) + load<f32>(xr + o));
    }
  }
}

/** sum_i a[i] * b[i] (f32 lanes, f64 final) */
export function dot(a: usize, b: usize, n: i32): f64 {
  const acc = dotLanes(a, b, n);
  let s: f64 =
    <f64>f32x4.extract_lane(acc, 0) +
    <f64>f32x4.extract_lane(acc, 1) +
    <f64>f32x4.extract_lane(acc, 2) +
    <f64>f32x4.extract_lane(acc, 3);
  for (let i = n & ~3; i < n; i++) {
    const o = (<usize>i) << 2;
    s += <f64>(load<f32>(a + o) * load<f32>(b + o));
  }
  return s;
}

/** out[r, j] = s · x[r] for j < n: spreads one value per row across the row (backward of a row reduction) */
export function spreadLastDim(x: usize, rows: i32, n: i32, s: f32, out: usize): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) {
    const v = s * load<f32>(x + ((<usize>r) << 2));
    const vv = f32x4.splat(v);
    const or = out + (<usize>r) * rowBytes;
    let j = 0;
    for (; j + 4 <= n; j += 4) v128.store(or + ((<usize>j) << 2), vv);
    for (; j < n; j++) store<f32>(or + ((<usize>j) << 2), v);
  }
}
