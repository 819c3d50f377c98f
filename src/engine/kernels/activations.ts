// Pointwise non-linearities and their derivatives (scalar loops: exp/log have no SIMD instruction).

/** out[i] = log(sigmoid(x[i])), computed stably as -softplus(-x) */
export function logSigmoid(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    const v = load<f32>(x + o);
    const r: f32 = v >= 0 ? -Mathf.log(1 + Mathf.exp(-v)) : v - Mathf.log(1 + Mathf.exp(v));
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
