// Pointwise non-linearities and their derivatives (scalar loops: exp/log have no SIMD instruction).

/** out[i] = log(sigmoid(x[i])), computed stably as -softplus(-x) */
export function logSigmoid(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    const r: f32 = v >= 0 ? -Mathf.log1p(Mathf.exp(-v)) : v - Mathf.log1p(Mathf.exp(v));
    store<f32>(out + o, r);
  }
}

/** gx[i] = g[i] * sigmoid(-x[i])  (d/dx log sigmoid(x) = 1 - sigmoid(x)) */
export function logSigmoidBackward(x: usize, g: usize, gx: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    const s: f32 = v >= 0 ? Mathf.exp(-v) / (1 + Mathf.exp(-v)) : 1 / (1 + Mathf.exp(v));
    store<f32>(gx + o, load<f32>(g + o) * s);
  }
}

// ---- SIMD exp and tanh ----------------------------------------------------------------------------

/**
 * e^x for four lanes (Cephes expf: 2^n · e^r with |r| ≤ ln2/2 and a polynomial for e^r, ~1 ulp).
 * Overflows to +inf above 88.72 and flushes to 0 below -87.3, like the scalar exp away from subnormals.
 */
@inline
function exp4(x: v128): v128 {
  const c = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.0));
  const n = f32x4.nearest(f32x4.mul(c, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(c, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.add(r, f32x4.mul(n, f32x4.splat(2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  let e = f32x4.mul(y, pow2n);
  e = v128.bitselect(f32x4.splat(Infinity), e, f32x4.gt(x, f32x4.splat(88.72283)));
  return v128.bitselect(f32x4.splat(0), e, f32x4.lt(x, f32x4.splat(-87.3)));
}

/** tanh for four lanes: a Cephes polynomial near 0 (no cancellation), 1 - 2/(e^{2|x|} + 1) elsewhere. */
@inline
function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const e = exp4(f32x4.add(ax, ax));
  const big = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
  // Copy x's sign onto the large-|x| branch.
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.625)));
}

@inline
function sigmoid4(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
}

@inline
function sigmoid1(x: f32): f32 {
  return x >= 0 ? 1 / (1 + Mathf.exp(-x)) : Mathf.exp(x) / (1 + Mathf.exp(x));
}

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;

// ---- pointwise maps -------------------------------------------------------------------------------

/** out[i] = e^x[i] */
export function pointwiseExp(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, exp4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, Mathf.exp(load<f32>(x + o)));
  }
}

/** out[i] = ln x[i] (NaN for negative x, -inf for 0) */
export function pointwiseLog(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, Mathf.log(load<f32>(x + o)));
  }
}

/** out[i] = max(x[i], 0) */
export function relu(x: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.pmax(zero, v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    store<f32>(out + o, v > 0 ? v : 0);
  }
}

/** gx[i] = x[i] > 0 ? g[i] : 0 */
export function reluBackward(x: usize, g: usize, gx: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(gx + o, v128.and(v128.load(g + o), f32x4.gt(v128.load(x + o), zero)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(gx + o, load<f32>(x + o) > 0 ? load<f32>(g + o) : 0);
  }
}

/** out[i] = 1 / (1 + e^-x[i]) */
export function sigmoid(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, sigmoid4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, sigmoid1(load<f32>(x + o)));
  }
}

/** gx[i] = g[i] · y[i] · (1 - y[i]), from the output y = sigmoid(x) */
export function sigmoidBackward(y: usize, g: usize, gx: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const yv = v128.load(y + o);
    v128.store(gx + o, f32x4.mul(v128.load(g + o), f32x4.mul(yv, f32x4.sub(one, yv))));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const yv = load<f32>(y + o);
    store<f32>(gx + o, load<f32>(g + o) * yv * (1 - yv));
  }
}

/** out[i] = tanh(x[i]) */
export function tanh(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, tanh4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, Mathf.tanh(load<f32>(x + o)));
  }
}

/** gx[i] = g[i] · (1 - y[i]²), from the output y = tanh(x) */
export function tanhBackward(y: usize, g: usize, gx: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const yv = v128.load(y + o);
    v128.store(gx + o, f32x4.mul(v128.load(g + o), f32x4.sub(one, f32x4.mul(yv, yv))));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const yv = load<f32>(y + o);
    store<f32>(gx + o, load<f32>(g + o) * (1 - yv * yv));
  }
}

/** out[i] = GELU(x[i]), tanh approximation: x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³))) */
export function gelu(x: usize, out: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const k = f32x4.splat(SQRT_2_OVER_PI);
  const c = f32x4.splat(GELU_C);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const v = v128.load(x + o);
    const u = f32x4.mul(k, f32x4.add(v, f32x4.mul(c, f32x4.mul(v, f32x4.mul(v, v)))));
    v128.store(out + o, f32x4.mul(f32x4.mul(half, v), f32x4.add(one, tanh4(u))));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    const u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
    store<f32>(out + o, 0.5 * v * (1 + Mathf.tanh(u)));
  }
}

/** gx[i] = g[i] · GELU'(x[i]) = g · (½(1 + t) + ½ x (1 - t²) √(2/π)(1 + 3·0.044715 x²)), t = tanh(u) */
export function geluBackward(x: usize, g: usize, gx: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const k = f32x4.splat(SQRT_2_OVER_PI);
  const c = f32x4.splat(GELU_C);
  const c3 = f32x4.splat(3 * GELU_C);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    const v = v128.load(x + o);
    const v2 = f32x4.mul(v, v);
    const t = tanh4(f32x4.mul(k, f32x4.add(v, f32x4.mul(c, f32x4.mul(v, v2)))));
    const du = f32x4.mul(k, f32x4.add(one, f32x4.mul(c3, v2)));
    const d = f32x4.add(
      f32x4.mul(half, f32x4.add(one, t)),
      f32x4.mul(f32x4.mul(half, v), f32x4.mul(f32x4.sub(one, f32x4.mul(t, t)), du)),
    );
    v128.store(gx + o, f32x4.mul(v128.load(g + o), d));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    const t = Mathf.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
    const du = SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
    store<f32>(gx + o, load<f32>(g + o) * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du));
  }
}

/** out[i] = ln(1 + e^x[i]), computed as max(x, 0) + log1p(e^-|x|) */
export function softplus(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    store<f32>(out + o, max<f32>(v, 0) + Mathf.log1p(Mathf.exp(-Mathf.abs(v))));
  }
}

/** gx[i] = g[i] · sigmoid(x[i]) */
export function softplusBackward(x: usize, g: usize, gx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(gx + o, f32x4.mul(v128.load(g + o), sigmoid4(v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(gx + o, load<f32>(g + o) * sigmoid1(load<f32>(x + o)));
  }
}

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
