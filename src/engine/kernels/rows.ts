// Row helpers shared by several kernels (not kernels themselves): the SIMD part of a dot product (row
// products, reduce's dot), four dot products against one vector (top-k scan, matmul) and a row sum
// (embedding scatter, gradient coalescing).

/**
 * Lane i = query · row i over dim floats. Each lane sums the products of positions ≡ i (mod 4), reduces them
 * as (l0 + l2) + (l1 + l3) and adds the tail in order, whichever lane a row falls in: a row's score does not
 * depend on its position in the table.
 */
@inline
export function dotF32x4(a0: usize, a1: usize, a2: usize, a3: usize, query: usize, dim: i32): v128 {
  let d0 = f32x4.splat(0);
  let d1 = f32x4.splat(0);
  let d2 = f32x4.splat(0);
  let d3 = f32x4.splat(0);
  const vectorEnd = dim & ~3;
  for (let j = 0; j < vectorEnd; j += 4) {
    const o = (<usize>j) << 2;
    const q = v128.load(query + o);
    d0 = f32x4.add(d0, f32x4.mul(q, v128.load(a0 + o)));
    d1 = f32x4.add(d1, f32x4.mul(q, v128.load(a1 + o)));
    d2 = f32x4.add(d2, f32x4.mul(q, v128.load(a2 + o)));
    d3 = f32x4.add(d3, f32x4.mul(q, v128.load(a3 + o)));
  }
  const t0 = f32x4.add(v128.shuffle<f32>(d0, d1, 0, 4, 1, 5), v128.shuffle<f32>(d0, d1, 2, 6, 3, 7));
  const t1 = f32x4.add(v128.shuffle<f32>(d2, d3, 0, 4, 1, 5), v128.shuffle<f32>(d2, d3, 2, 6, 3, 7));
  let sums = f32x4.add(v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  for (let j = vectorEnd; j < dim; j++) {
    const o = (<usize>j) << 2;
    let v = f32x4.splat(load<f32>(a0 + o));
    v = f32x4.replace_lane(v, 1, load<f32>(a1 + o));
    v = f32x4.replace_lane(v, 2, load<f32>(a2 + o));
    v = f32x4.replace_lane(v, 3, load<f32>(a3 + o));
    sums = f32x4.add(sums, f32x4.mul(f32x4.splat(load<f32>(query + o)), v));
  }
  return sums;
}

/** dst[j] += src[j] for j < dim */
@inline
export function addRow(dst: usize, src: usize, dim: i32): void {
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; j < dim; j++) {
    const o = (<usize>j) << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/**
 * The four lane sums of a · b over the first n & ~3 floats, eight floats a step in two accumulators; the
 * caller reduces the lanes and adds the tail (in f32 or f64).
 */
@inline
export function dotLanes(a: usize, b: usize, n: i32): v128 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = (<usize>i) << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    acc1 = f32x4.add(acc1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  if (i + 4 <= n) {
    const o = (<usize>i) << 2;
    acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  return f32x4.add(acc0, acc1);
}
