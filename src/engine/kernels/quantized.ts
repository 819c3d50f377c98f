// Scoring on int8 tables: integer dot products with per-row scales, no de-quantising of the table.

/**
 * out[r] = scales[r] · xScale · Σ_k m[r, k] · x[k] for r < n, where m is a row-major int8 table
 * [n, dim] and x an int8 query of dim values. Sums are exact in i32: |m|, |x| ≤ 127 keeps each lane
 * below 2^31 for dim < 2^17. Rows need no alignment (v128 loads tolerate any address).
 */
export function int8MatVec(m: usize, x: usize, scales: usize, xScale: f32, n: i32, dim: i32, out: usize): void {
  const rowBytes = <usize>dim;
  for (let r = 0; r < n; r++) {
    const row = m + (<usize>r) * rowBytes;
    const dot = <f32>int8Dot(row, x, dim);
    store<f32>(out + ((<usize>r) << 2), dot * (load<f32>(scales + ((<usize>r) << 2)) * xScale));
  }
}

/**
 * int8MatVec over chosen rows: out[k] = scales[r] · xScale · Σ_j m[r, j] · x[j] for r = rows[k], k < count
 * (candidate lists), reading the rows in place instead of gathering them first.
 */
export function int8MatVecRows(
  m: usize,
  rows: usize,
  x: usize,
  scales: usize,
  xScale: f32,
  count: i32,
  dim: i32,
  out: usize,
): void {
  const rowBytes = <usize>dim;
  for (let k = 0; k < count; k++) {
    const r = <usize>load<i32>(rows + ((<usize>k) << 2));
    const dot = <f32>int8Dot(m + r * rowBytes, x, dim);
    store<f32>(out + ((<usize>k) << 2), dot * (load<f32>(scales + (r << 2)) * xScale));
  }
}

function int8Dot(a: usize, b: usize, dim: i32): i32 {
  let acc0 = i32x4.splat(0);
  let acc1 = i32x4.splat(0);
  let j = 0;
  // 16 bytes per step: sign-extend each half to i16x8, then pairwise multiply-add into i32x4.
  for (; j + 16 <= dim; j += 16) {
    const va = v128.load(a + <usize>j);
    const vb = v128.load(b + <usize>j);
    acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(va), i16x8.extend_low_i8x16_s(vb)));
    acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(va), i16x8.extend_high_i8x16_s(vb)));
  }
  // An 8-byte load never reads past the row, unlike a full v128.
  if (j + 8 <= dim) {
    acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(v128.load8x8_s(a + <usize>j), v128.load8x8_s(b + <usize>j)));
    j += 8;
  }
  acc0 = i32x4.add(acc0, acc1);
  let s = i32x4.extract_lane(acc0, 0) + i32x4.extract_lane(acc0, 1) + i32x4.extract_lane(acc0, 2) + i32x4.extract_lane(acc0, 3);
  for (; j < dim; j++) s += <i32>load<i8>(a + <usize>j) * <i32>load<i8>(b + <usize>j);
  return s;
}
