// Optimiser kernels: fused in-place updates of a parameter and its state, over a whole tensor (dense
// gradients) or over the rows of an embedding table that a batch touched (sparse gradients).
//
// Each update rule is written once on f32x4 values and used both for the four-lane main loop and for
// the scalar tail (one lane loaded by splat, lane 0 stored), so a row updated through the sparse path is
// bit-identical to the same row updated through the dense path, whatever the row's alignment.

import { addRow } from "./rows";

@inline
function ld(ptr: usize, wide: bool): v128 {
  return wide ? v128.load(ptr) : v128.load32_splat(ptr);
}

@inline
function st(ptr: usize, value: v128, wide: bool): void {
  if (wide) v128.store(ptr, value);
  else v128.store32_lane(ptr, value, 0);
}

// ---- SGD ----------------------------------------------------------------------------------------

/** g += wd·p; with momentum: b = μ·b + g, g = nesterov ? g + μ·b : b; p -= lr·g */
@inline
function sgdAt(
  p: usize,
  g: usize,
  b: usize,
  lr: v128,
  wd: v128,
  mu: v128,
  momentum: bool,
  nesterov: bool,
  wide: bool,
): void {
  const pv = ld(p, wide);
  let gv = f32x4.add(ld(g, wide), f32x4.mul(wd, pv));
  if (momentum) {
    const bv = f32x4.add(f32x4.mul(mu, ld(b, wide)), gv);
    st(b, bv, wide);
    gv = nesterov ? f32x4.add(gv, f32x4.mul(mu, bv)) : bv;
  }
  st(p, f32x4.sub(pv, f32x4.mul(lr, gv)), wide);
}

@inline
function sgdLoop(p: usize, g: usize, b: usize, n: i32, lr: v128, wd: v128, mu: v128, momentum: bool, nesterov: bool): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    sgdAt(p + o, g + o, b + o, lr, wd, mu, momentum, nesterov, true);
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    sgdAt(p + o, g + o, b + o, lr, wd, mu, momentum, nesterov, false);
  }
}

@inline
function sgdSpan(p: usize, g: usize, b: usize, n: i32, lr: v128, wd: v128, mu: v128, momentum: bool, nesterov: bool): void {
  // Hoist the variant out of the loop: each call site below gets its own specialised loop.
  if (!momentum) sgdLoop(p, g, b, n, lr, wd, mu, false, false);
  else if (nesterov) sgdLoop(p, g, b, n, lr, wd, mu, true, true);
  else sgdLoop(p, g, b, n, lr, wd, mu, true, false);
}

/** SGD over n elements; `buf` (momentum) is read only when momentum > 0. Zeroes `grad` afterwards. */
export function sgdDense(
  param: usize,
  grad: usize,
  buf: usize,
  n: i32,
  lr: f32,
  weightDecay: f32,
  momentum: f32,
  nesterov: i32,
): void {
  sgdSpan(
    param,
    grad,
    buf,
    n,
    f32x4.splat(lr),
    f32x4.splat(weightDecay),
    f32x4.splat(momentum),
    momentum != 0,
    nesterov != 0,
  );
  memory.fill(grad, 0, (<usize>n) << 2);
}

/** SGD on the rows ids[0..count) of a [rows, dim] table; grads[k] is the byte offset of row k's gradient. */
export function sgdRows(
  param: usize,
  dim: i32,
  ids: usize,
  grads: usize,
  count: i32,
  buf: usize,
  lr: f32,
  weightDecay: f32,
  momentum: f32,
  nesterov: i32,
): void {
  const rowBytes = (<usize>dim) << 2;
  const lrv = f32x4.splat(lr);
  const wdv = f32x4.splat(weightDecay);
  const muv = f32x4.splat(momentum);
  const withMomentum = momentum != 0;
  const withNesterov = nesterov != 0;
  for (let k = 0; k < count; k++) {
    const off = (<usize>load<i32>(ids + ((<usize>k) << 2))) * rowBytes;
    const g = <usize>load<u32>(grads + ((<usize>k) << 2));
    sgdSpan(param + off, g, buf + off, dim, lrv, wdv, muv, withMomentum, withNesterov);
  }
}

// ---- Adagrad ------------------------------------------------------------------------------------

/** g += wd·p; s += g²; p -= lr·g / (√s + eps) */
@inline
function adagradAt(p: usize, g: usize, s: usize, lr: v128, eps: v128, wd: v128, wide: bool): void {
  const pv = ld(p, wide);
  const gv = f32x4.add(ld(g, wide), f32x4.mul(wd, pv));
  const sv = f32x4.add(ld(s, wide), f32x4.mul(gv, gv));
  st(s, sv, wide);
  st(p, f32x4.sub(pv, f32x4.div(f32x4.mul(lr, gv), f32x4.add(f32x4.sqrt(sv), eps))), wide);
}

@inline
function adagradSpan(p: usize, g: usize, s: usize, n: i32, lr: v128, eps: v128, wd: v128): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    adagradAt(p + o, g + o, s + o, lr, eps, wd, true);
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    adagradAt(p + o, g + o, s + o, lr, eps, wd, false);
  }
}

/** Adagrad over n elements with accumulator `sum`. Zeroes `grad` afterwards. */
export function adagradDense(param: usize, grad: usize, sum: usize, n: i32, lr: f32, eps: f32, weightDecay: f32): void {
  adagradSpan(param, grad, sum, n, f32x4.splat(lr), f32x4.splat(eps), f32x4.splat(weightDecay));
  memory.fill(grad, 0, (<usize>n) << 2);
}

/** Adagrad on the rows ids[0..count) of a [rows, dim] table (see sgdRows for `grads`). */
export function adagradRows(
  param: usize,
  dim: i32,
  ids: usize,
  grads: usize,
  count: i32,
  sum: usize,
  lr: f32,
  eps: f32,
  weightDecay: f32,
): void {
  const rowBytes = (<usize>dim) << 2;
  const lrv = f32x4.splat(lr);
  const epsv = f32x4.splat(eps);
  const wdv = f32x4.splat(weightDecay);
  for (let k = 0; k < count; k++) {
    const off = (<usize>load<i32>(ids + ((<usize>k) << 2))) * rowBytes;
    const g = <usize>load<u32>(grads + ((<usize>k) << 2));
    adagradSpan(param + off, g, sum + off, dim, lrv, epsv, wdv);
  }
}

// ---- Adam / AdamW -------------------------------------------------------------------------------

/**
 * g += l2·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; p = p·shrink - stepSize·m / (√v·invSqrtBc2 + eps).
 * Adam passes l2 = weight decay, shrink = 1; AdamW passes l2 = 0, shrink = 1 - lr·wd.
 */
@inline
function adamAt(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  stepSize: v128,
  b1: v128,
  b1c: v128,
  b2: v128,
  b2c: v128,
  invSqrtBc2: v128,
  eps: v128,
  l2: v128,
  shrink: v128,
  wide: bool,
): void {
  const pv = ld(p, wide);
  const gv = f32x4.add(ld(g, wide), f32x4.mul(l2, pv));
  const mv = f32x4.add(f32x4.mul(b1, ld(m, wide)), f32x4.mul(b1c, gv));
  const vv = f32x4.add(f32x4.mul(b2, ld(v, wide)), f32x4.mul(b2c, f32x4.mul(gv, gv)));
  st(m, mv, wide);
  st(v, vv, wide);
  const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), invSqrtBc2), eps);
  st(p, f32x4.sub(f32x4.mul(pv, shrink), f32x4.div(f32x4.mul(stepSize, mv), denom)), wide);
}

@inline
function adamSpan(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  stepSize: v128,
  b1: v128,
  b1c: v128,
  b2: v128,
  b2c: v128,
  invSqrtBc2: v128,
  eps: v128,
  l2: v128,
  shrink: v128,
): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    adamAt(p + o, g + o, m + o, v + o, stepSize, b1, b1c, b2, b2c, invSqrtBc2, eps, l2, shrink, true);
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    adamAt(p + o, g + o, m + o, v + o, stepSize, b1, b1c, b2, b2c, invSqrtBc2, eps, l2, shrink, false);
  }
}

/**
 * Adam/AdamW over n elements with moments m and v (constants as in adamAt; 1 - β is passed in, rounded once
 * from float64, because 1 - f32(β2) loses most of its digits). Zeroes `grad` afterwards.
 */
export function adamDense(
  param: usize,
  grad: usize,
  m: usize,
  v: usize,
  n: i32,
  stepSize: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  invSqrtBc2: f32,
  eps: f32,
  l2: f32,
  shrink: f32,
): void {
  adamSpan(
    param,
    grad,
    m,
    v,
    n,
    f32x4.splat(stepSize),
    f32x4.splat(beta1),
    f32x4.splat(oneMinusBeta1),
    f32x4.splat(beta2),
    f32x4.splat(oneMinusBeta2),
    f32x4.splat(invSqrtBc2),
    f32x4.splat(eps),
    f32x4.splat(l2),
    f32x4.splat(shrink),
  );
  memory.fill(grad, 0, (<usize>n) << 2);
}

/** Lazy Adam/AdamW on the rows ids[0..count) of a [rows, dim] table (see sgdRows for `grads`). */
export function adamRows(
  param: usize,
  dim: i32,
  ids: usize,
  grads: usize,
  count: i32,
  m: usize,
  v: usize,
  stepSize: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  invSqrtBc2: f32,
  eps: f32,
  l2: f32,
  shrink: f32,
): void {
  const rowBytes = (<usize>dim) << 2;
  const stepSizeV = f32x4.splat(stepSize);
  const b1 = f32x4.splat(beta1);
  const b1c = f32x4.splat(oneMinusBeta1);
  const b2 = f32x4.splat(beta2);
  const b2c = f32x4.splat(oneMinusBeta2);
  const bc = f32x4.splat(invSqrtBc2);
  const epsV = f32x4.splat(eps);
  const l2V = f32x4.splat(l2);
  const shrinkV = f32x4.splat(shrink);
  for (let k = 0; k < count; k++) {
    const off = (<usize>load<i32>(ids + ((<usize>k) << 2))) * rowBytes;
    const g = <usize>load<u32>(grads + ((<usize>k) << 2));
    adamSpan(param + off, g, m + off, v + off, dim, stepSizeV, b1, b1c, b2, b2c, bc, epsV, l2V, shrinkV);
  }
}

// ---- sparse gradient coalescing -----------------------------------------------------------------

/**
 * Merge one part of a table's sparse gradient (row ids `indices`, gradient rows `rows`) into a list of
 * unique rows: uniqueIds[k] is a table row id and uniqueGrads[k] the byte offset of its summed gradient.
 * A row seen once keeps pointing at its input row (no copy); a repeated row is copied into `copies` on
 * its second occurrence and the later occurrences are added to the copy, in order.
 *
 * `slots` ([rows] i32) maps a row id to its index in uniqueIds, as a sparse set: an entry is trusted only
 * if it is below the unique count and uniqueIds points back at the id, so the array never needs
 * clearing, any initial contents are valid, and concurrent threads sharing it can at worst miss a merge.
 * counters[0] (unique rows) and counters[1] (copies used) carry over between parts: start both at 0.
 * `copies` must hold floor(total count / 2) rows. Returns 0, or r + 1 when indices[r] is not a row id.
 */
export function coalesceRows(
  indices: usize,
  rows: usize,
  count: i32,
  dim: i32,
  tableRows: i32,
  slots: usize,
  uniqueIds: usize,
  uniqueGrads: usize,
  copies: usize,
  counters: usize,
): i32 {
  const rowBytes = (<usize>dim) << 2;
  let unique = load<i32>(counters);
  let copied = load<i32>(counters, 4);
  for (let r = 0; r < count; r++) {
    const id = load<i32>(indices + ((<usize>r) << 2));
    if (<u32>id >= <u32>tableRows) {
      store<i32>(counters, unique);
      store<i32>(counters, copied, 4);
      return r + 1;
    }
    const row = rows + (<usize>r) * rowBytes;
    const slotAt = slots + ((<usize>id) << 2);
    const slot = load<i32>(slotAt);
    if (<u32>slot < <u32>unique && load<i32>(uniqueIds + ((<usize>slot) << 2)) == id) {
      const gradAt = uniqueGrads + ((<usize>slot) << 2);
      let sum = <usize>load<u32>(gradAt);
      if (sum < copies || sum >= copies + (<usize>copied) * rowBytes) {
        const copy = copies + (<usize>copied) * rowBytes;
        copied++;
        memory.copy(copy, sum, rowBytes);
        store<u32>(gradAt, <u32>copy);
        sum = copy;
      }
      addRow(sum, row, dim);
    } else {
      store<i32>(slotAt, unique);
      store<i32>(uniqueIds + ((<usize>unique) << 2), id);
      store<u32>(uniqueGrads + ((<usize>unique) << 2), <u32>row);
      unique++;
    }
  }
  store<i32>(counters, unique);
  store<i32>(counters, copied, 4);
  return 0;
}
