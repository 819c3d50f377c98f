// Pointwise non-linearities and their derivatives (scalar loops: exp/log have no SIMD instruction).
import { exp4, sigmoid1, sigmoid4, tanh4 } from "./simd-math";

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

