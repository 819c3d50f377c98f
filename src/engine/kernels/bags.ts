// Embedding bags: pooling variable-length lists of rows. Bag b covers positions offsets[b] .. offsets[b+1]
// (the last bag ends at n); empty bags pool to zero.

@inline
function bagEnd(offsets: usize, b: i32, bags: i32, n: i32): i32 {
  return b + 1 < bags ? load<i32>(offsets + ((<usize>(b + 1)) << 2)) : n;
}

@inline
function dot(a: usize, b: usize, dim: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    const o = (<usize>j) << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; j < dim; j++) {
    const o = (<usize>j) << 2;
    s += load<f32>(a + o) * load<f32>(b + o);
  }
  return s;
}

/** y[:] += alpha * x[:] */
@inline
function axpyRow(alpha: f32, x: usize, y: usize, dim: i32): void {
  const av = f32x4.splat(alpha);
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(v128.load(x + o), av)));
  }
  for (; j < dim; j++) {
    const o = (<usize>j) << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}

/** y[:] = alpha * x[:] */
@inline
function scaleRow(alpha: f32, x: usize, y: usize, dim: i32): void {
  const av = f32x4.splat(alpha);
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(y + o, f32x4.mul(v128.load(x + o), av));
  }
  for (; j < dim; j++) {
    const o = (<usize>j) << 2;
    store<f32>(y + o, alpha * load<f32>(x + o));
  }
}

/** out[b, :] = Σ table[ids[i], :] over bag b, divided by the bag's length when `mean` is non-zero */
export function embeddingBag(
  table: usize,
  ids: usize,
  n: i32,
  offsets: usize,
  bags: i32,
  dim: i32,
  mean: i32,
  out: usize,
): void {
  const rowBytes = (<usize>dim) << 2;
  for (let b = 0; b < bags; b++) {
    const start = load<i32>(offsets + ((<usize>b) << 2));
    const end = bagEnd(offsets, b, bags, n);
    const orow = out + (<usize>b) * rowBytes;
    memory.fill(orow, 0, rowBytes);
    for (let i = start; i < end; i++) {
      axpyRow(1, table + (<usize>load<i32>(ids + ((<usize>i) << 2))) * rowBytes, orow, dim);
    }
    if (mean && end > start) scaleRow(<f32>1 / <f32>(end - start), orow, orow, dim);
  }
}

/** rows[i, :] = g[b, :] for every position i of bag b (÷ the bag's length when `mean` is non-zero) */
export function embeddingBagBackward(g: usize, n: i32, offsets: usize, bags: i32, dim: i32, mean: i32, rows: usize): void {
  const rowBytes = (<usize>dim) << 2;
  for (let b = 0; b < bags; b++) {
    const start = load<i32>(offsets + ((<usize>b) << 2));
    const end = bagEnd(offsets, b, bags, n);
    const scale: f32 = mean && end > start ? <f32>1 / <f32>(end - start) : 1;
    const grow = g + (<usize>b) * rowBytes;
    for (let i = start; i < end; i++) scaleRow(scale, grow, rows + (<usize>i) * rowBytes, dim);
  }
}

/**
 * Attention pooling. For every bag b with query q_b (row b of `query`, or the single row when `queryStride`
 * is 0): weights[i] = softmax over the bag of scale·(values[i] · q_b), out[b] = Σ weights[i] values[i].
 */
export function attentionPool(
  values: usize,
  n: i32,
  offsets: usize,
  bags: i32,
  query: usize,
  queryStride: i32,
  dim: i32,
  scale: f32,
  weights: usize,
  out: usize,
): void {
  const rowBytes = (<usize>dim) << 2;
  for (let b = 0; b < bags; b++) {
    const start = load<i32>(offsets + ((<usize>b) << 2));
    const end = bagEnd(offsets, b, bags, n);
    const q = query + (<usize>b) * (<usize>queryStride) * 4;
    const orow = out + (<usize>b) * rowBytes;
    memory.fill(orow, 0, rowBytes);
    if (end <= start) continue;
    // Scores go into `weights` first; subtracting the bag's maximum keeps exp() finite.
    let maxScore = -Infinity as f32;
    for (let i = start; i < end; i++) {
      const s = scale * dot(values + (<usize>i) * rowBytes, q, dim);
      store<f32>(weights + ((<usize>i) << 2), s);
      if (s > maxScore) maxScore = s;
    }
    let total: f32 = 0;
    for (let i = start; i < end; i++) {
      const w = Mathf.exp(load<f32>(weights + ((<usize>i) << 2)) - maxScore);
      store<f32>(weights + ((<usize>i) << 2), w);
      total += w;
    }
    const inv: f32 = 1 / total;
    for (let i = start; i < end; i++) {
      const w = load<f32>(weights + ((<usize>i) << 2)) * inv;
      store<f32>(weights + ((<usize>i) << 2), w);
      axpyRow(w, values + (<usize>i) * rowBytes, orow, dim);
    }
  }
}

/**
 * Backward of attentionPool given its saved `weights` and `out` and the output gradient `g`:
 * with ds_i = w_i (g_b · v_i − g_b · out_b),
 *   gradValues[i] = w_i g_b + scale ds_i q_b   (written; skipped when gradValues is 0)
 *   gradQuery[b]  += scale Σ_i ds_i v_i        (accumulated, so a shared query sums over bags; skipped when 0)
 */
export function attentionPoolBackward(
  values: usize,
  n: i32,
  offsets: usize,
  bags: i32,
  query: usize,
  queryStride: i32,
  dim: i32,
  scale: f32,
  weights: usize,
  out: usize,
  g: usize,
  gradValues: usize,
  gradQuery: usize,
): void {
  const rowBytes = (<usize>dim) << 2;
  for (let b = 0; b < bags; b++) {
    const start = load<i32>(offsets + ((<usize>b) << 2));
    const end = bagEnd(offsets, b, bags, n);
    if (end <= start) continue;
    const qOffset = (<usize>b) * (<usize>queryStride) * 4;
    const grow = g + (<usize>b) * rowBytes;
    const gOut = dot(grow, out + (<usize>b) * rowBytes, dim);
    for (let i = start; i < end; i++) {
      const v = values + (<usize>i) * rowBytes;
      const w = load<f32>(weights + ((<usize>i) << 2));
      const ds = w * (dot(grow, v, dim) - gOut);
      if (gradValues) {
        const gv = gradValues + (<usize>i) * rowBytes;
        scaleRow(w, grow, gv, dim);
        axpyRow(scale * ds, query + qOffset, gv, dim);
      }
      if (gradQuery) axpyRow(scale * ds, v, gradQuery + qOffset, dim);
    }
  }
}
