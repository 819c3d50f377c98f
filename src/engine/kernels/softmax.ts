// Softmax over the last dimension and the fused loss kernels built on it (cross-entropy, KL, BCE with logits).
import { exp4, sigmoid1, sigmoid4 } from "./simd-math";

// ---- softmax over the last dimension of [rows, n] -------------------------------------------------

@inline
function rowMax(x: usize, n: i32): f32 {
  let m4 = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) m4 = f32x4.max(m4, v128.load(x + ((<usize>j) << 2)));
  let m = max<f32>(
    max<f32>(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)),
    max<f32>(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)),
  );
  for (; j < n; j++) m = max<f32>(m, load<f32>(x + ((<usize>j) << 2)));
  return m;
}

@inline
function rowSum(x: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) acc = f32x4.add(acc, v128.load(x + ((<usize>j) << 2)));
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; j < n; j++) s += load<f32>(x + ((<usize>j) << 2));
  return s;
}

/** out[j] = e^{(x[j] - m) · invT}; returns the row's sum of out */
@inline
function shiftedExpRow(x: usize, out: usize, n: i32, m: f32, invT: f32): f32 {
  const mv = f32x4.splat(m);
  const tv = f32x4.splat(invT);
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = (<usize>j) << 2;
    const e = exp4(f32x4.mul(f32x4.sub(v128.load(x + o), mv), tv));
    v128.store(out + o, e);
    acc = f32x4.add(acc, e);
  }
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; j < n; j++) {
    const o = (<usize>j) << 2;
    const e = Mathf.exp((load<f32>(x + o) - m) * invT);
    store<f32>(out + o, e);
    s += e;
  }
  return s;
}

@inline
function scaleRow(x: usize, s: f32, n: i32): void {
  const sv = f32x4.splat(s);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (; j < n; j++) store<f32>(x + ((<usize>j) << 2), load<f32>(x + ((<usize>j) << 2)) * s);
}

/** out[r, :] = softmax(x[r, :] · invT), stable: the row max is subtracted first */
export function softmaxRows(x: usize, out: usize, rows: i32, n: i32, invT: f32): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) {
    const o = (<usize>r) * rowBytes;
    const s = shiftedExpRow(x + o, out + o, n, rowMax(x + o, n), invT);
    scaleRow(out + o, 1 / s, n);
  }
}

/** out[r, :] = log softmax(x[r, :] · invT) = (x - max) · invT - log Σ e^{(x - max) · invT} */
export function logSoftmaxRows(x: usize, out: usize, rows: i32, n: i32, invT: f32): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r) * rowBytes;
    const or = out + (<usize>r) * rowBytes;
    const m = rowMax(xr, n);
    // The exponentials go through `out` as scratch, then are overwritten with the result.
    const lse = Mathf.log(shiftedExpRow(xr, or, n, m, invT));
    const mv = f32x4.splat(m);
    const tv = f32x4.splat(invT);
    const lv = f32x4.splat(lse);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(or + o, f32x4.sub(f32x4.mul(f32x4.sub(v128.load(xr + o), mv), tv), lv));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(or + o, (load<f32>(xr + o) - m) * invT - lse);
    }
  }
}

/** gx[r, :] = invT · y ⊙ (g - ⟨g, y⟩), from the output y = softmax(x · invT) */
export function softmaxBackward(y: usize, g: usize, gx: usize, rows: i32, n: i32, invT: f32): void {
  const rowBytes = (<usize>n) << 2;
  const tv = f32x4.splat(invT);
  for (let r = 0; r < rows; r++) {
    const base = (<usize>r) * rowBytes;
    const yr = y + base;
    const gr = g + base;
    const xr = gx + base;
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      acc = f32x4.add(acc, f32x4.mul(v128.load(yr + o), v128.load(gr + o)));
    }
    let d = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < n; j++) d += load<f32>(yr + ((<usize>j) << 2)) * load<f32>(gr + ((<usize>j) << 2));
    const dv = f32x4.splat(d);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(xr + o, f32x4.mul(tv, f32x4.mul(v128.load(yr + o), f32x4.sub(v128.load(gr + o), dv))));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(xr + o, invT * load<f32>(yr + o) * (load<f32>(gr + o) - d));
    }
  }
}

/** gx[r, :] = invT · (g - e^{lp} · Σ g), from the output lp = log softmax(x · invT) */
export function logSoftmaxBackward(lp: usize, g: usize, gx: usize, rows: i32, n: i32, invT: f32): void {
  const rowBytes = (<usize>n) << 2;
  const tv = f32x4.splat(invT);
  for (let r = 0; r < rows; r++) {
    const base = (<usize>r) * rowBytes;
    const lr = lp + base;
    const gr = g + base;
    const xr = gx + base;
    const s = rowSum(gr, n);
    const sv = f32x4.splat(s);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(xr + o, f32x4.mul(tv, f32x4.sub(v128.load(gr + o), f32x4.mul(exp4(v128.load(lr + o)), sv))));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(xr + o, invT * (load<f32>(gr + o) - Mathf.exp(load<f32>(lr + o)) * s));
    }
  }
}

// ---- fused loss kernels -------------------------------------------------------------------------

/** gx[r, :] = scale · (e^{lp[r, :]} · Σ_j t[r, j] - t[r, :]): cross-entropy gradient for (soft) targets t */
export function softCrossEntropyBackward(lp: usize, t: usize, rows: i32, n: i32, scale: f32, gx: usize): void {
  const rowBytes = (<usize>n) << 2;
  const sv = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const base = (<usize>r) * rowBytes;
    const lr = lp + base;
    const tr = t + base;
    const xr = gx + base;
    const mass = rowSum(tr, n);
    const mv = f32x4.splat(mass);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(xr + o, f32x4.mul(sv, f32x4.sub(f32x4.mul(exp4(v128.load(lr + o)), mv), v128.load(tr + o))));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(xr + o, scale * (Mathf.exp(load<f32>(lr + o)) * mass - load<f32>(tr + o)));
    }
  }
}

/** gx[r, :] = scale · e^{lp[r, :]}, then gx[r, target[r]] -= scale: cross-entropy gradient for class ids */
export function crossEntropyBackward(lp: usize, target: usize, rows: i32, n: i32, scale: f32, gx: usize): void {
  const rowBytes = (<usize>n) << 2;
  const sv = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const base = (<usize>r) * rowBytes;
    const lr = lp + base;
    const xr = gx + base;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(xr + o, f32x4.mul(sv, exp4(v128.load(lr + o))));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(xr + o, scale * Mathf.exp(load<f32>(lr + o)));
    }
    const at = xr + ((<usize>load<i32>(target + ((<usize>r) << 2))) << 2);
    store<f32>(at, load<f32>(at) - scale);
  }
}

/**
 * Sampled softmax cross-entropy, row r over the candidates [pos[r], neg[r, :]] with the positive first,
 * without concatenating them: probs[r, :] = the negatives' softmax probabilities, posProbs[r] = the
 * positive's; returns Σ_r −log posProbs[r]. One exponential per candidate; the backward pass needs only
 * the stored probabilities (see sampledSoftmaxBackward).
 */
export function sampledSoftmaxRows(pos: usize, neg: usize, rows: i32, n: i32, probs: usize, posProbs: usize): f64 {
  const rowBytes = (<usize>n) << 2;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const p = load<f32>(pos + ((<usize>r) << 2));
    const nr = neg + (<usize>r) * rowBytes;
    const pr = probs + (<usize>r) * rowBytes;
    const m = max<f32>(p, rowMax(nr, n));
    const ep = Mathf.exp(p - m);
    const s = shiftedExpRow(nr, pr, n, m, 1) + ep;
    scaleRow(pr, 1 / s, n);
    store<f32>(posProbs + ((<usize>r) << 2), ep / s);
    total += <f64>(Mathf.log(s) + m - p);
  }
  return total;
}

/** The gradients of sampledSoftmaxRows' sum times `scale`: gNeg = scale · probs, gPos = scale · (posProbs − 1). */
export function sampledSoftmaxBackward(
  probs: usize,
  posProbs: usize,
  rows: i32,
  n: i32,
  scale: f32,
  gPos: usize,
  gNeg: usize,
): void {
  const total = rows * n;
  const sv = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= total; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(gNeg + o, f32x4.mul(sv, v128.load(probs + o)));
  }
  for (; i < total; i++) store<f32>(gNeg + ((<usize>i) << 2), scale * load<f32>(probs + ((<usize>i) << 2)));
  for (let r = 0; r < rows; r++) {
    const o = (<usize>r) << 2;
    store<f32>(gPos + o, scale * (load<f32>(posProbs + o) - 1));
  }
}

/** Σ_i e^{lp[i]} · (lp[i] - lq[i]): KL(p ‖ q) summed over rows, from log-probabilities */
export function klDivSum(lp: usize, lq: usize, n: i32): f64 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const p = v128.load(lp + o);
    acc = f32x4.add(acc, f32x4.mul(exp4(p), f32x4.sub(p, v128.load(lq + o))));
  }
  let s: f64 =
    <f64>f32x4.extract_lane(acc, 0) +
    <f64>f32x4.extract_lane(acc, 1) +
    <f64>f32x4.extract_lane(acc, 2) +
    <f64>f32x4.extract_lane(acc, 3);
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const p = load<f32>(lp + o);
    s += <f64>(Mathf.exp(p) * (p - load<f32>(lq + o)));
  }
  return s;
}

/** gx[i] = scale · (e^{lq[i]} - e^{lp[i]}) */
export function klDivBackward(lp: usize, lq: usize, n: i32, scale: f32, gx: usize): void {
  const sv = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(gx + o, f32x4.mul(sv, f32x4.sub(exp4(v128.load(lq + o)), exp4(v128.load(lp + o)))));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(gx + o, scale * (Mathf.exp(load<f32>(lq + o)) - Mathf.exp(load<f32>(lp + o))));
  }
}

/** Σ_i w[i] · (max(x, 0) - x·t + log1p(e^{-|x|})): binary cross-entropy with logits; w = 0 means unweighted */
export function bceWithLogitsSum(x: usize, t: usize, w: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    const l = max<f32>(v, 0) - v * load<f32>(t + o) + Mathf.log1p(Mathf.exp(-Mathf.abs(v)));
    s += <f64>(w ? l * load<f32>(w + o) : l);
  }
  return s;
}

/** gx[i] = scale · w[i] · (sigmoid(x[i]) - t[i]); w = 0 means unweighted */
export function bceWithLogitsBackward(x: usize, t: usize, w: usize, n: i32, scale: f32, gx: usize): void {
  const sv = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    let d = f32x4.mul(sv, f32x4.sub(sigmoid4(v128.load(x + o)), v128.load(t + o)));
    if (w) d = f32x4.mul(d, v128.load(w + o));
    v128.store(gx + o, d);
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const d = scale * (sigmoid1(load<f32>(x + o)) - load<f32>(t + o));
    store<f32>(gx + o, w ? d * load<f32>(w + o) : d);
  }
}
