// What a transformer block needs beyond matmul: layer normalisation, fused multi-head scaled dot-product
// attention with causal and key-padding masks (and dropout on its weights), and dropout masks drawn in
// the kernel (a JS loop of random draws costs more than the block's matmuls at sequence-model sizes).

import { dotLanes } from "./rows";

@inline
function lanesSum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

@inline
function dotF32(a: usize, b: usize, n: i32): f32 {
  let s = lanesSum(dotLanes(a, b, n));
  for (let j = n & ~3; j < n; j++) s += load<f32>(a + ((<usize>j) << 2)) * load<f32>(b + ((<usize>j) << 2));
  return s;
}

/** y[0..n) += alpha · x[0..n) */
@inline
function axpyRow(alpha: f32, x: usize, y: usize, n: i32): void {
  const av = f32x4.splat(alpha);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(av, v128.load(x + o))));
  }
  for (; j < n; j++) {
    const o = (<usize>j) << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}

@inline
function zeroRow(x: usize, n: i32): void {
  memory.fill(x, 0, (<usize>n) << 2);
}

// ---- layer normalisation over the last dimension of [rows, n] --------------------------------------

/**
 * out[r] = (x[r] − mean) / sqrt(var + eps) · gamma + beta, the variance biased (as torch.nn.LayerNorm);
 * each row's mean and 1/sqrt(var + eps) are written to mean[r] and rstd[r] for the backward pass.
 */
export function layerNorm(x: usize, gamma: usize, beta: usize, out: usize, mean: usize, rstd: usize, rows: i32, n: i32, eps: f32): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r) * rowBytes;
    const or = out + (<usize>r) * rowBytes;
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) acc = f32x4.add(acc, v128.load(xr + ((<usize>j) << 2)));
    let s = lanesSum(acc);
    for (; j < n; j++) s += load<f32>(xr + ((<usize>j) << 2));
    const mu = s / <f32>n;
    const muv = f32x4.splat(mu);
    let vacc = f32x4.splat(0);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const d = f32x4.sub(v128.load(xr + ((<usize>j) << 2)), muv);
      vacc = f32x4.add(vacc, f32x4.mul(d, d));
    }
    let v = lanesSum(vacc);
    for (; j < n; j++) {
      const d = load<f32>(xr + ((<usize>j) << 2)) - mu;
      v += d * d;
    }
    const rs = <f32>1 / Mathf.sqrt(v / <f32>n + eps);
    store<f32>(mean + ((<usize>r) << 2), mu);
    store<f32>(rstd + ((<usize>r) << 2), rs);
    const rsv = f32x4.splat(rs);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rsv);
      v128.store(or + o, f32x4.add(f32x4.mul(xhat, v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(or + o, (load<f32>(xr + o) - mu) * rs * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

/**
 * Gradients of layerNorm given the incoming g: gx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)) with ĝ = g ⊙ gamma;
 * gGamma += Σ_r g ⊙ x̂ and gBeta += Σ_r g (accumulated: zero them first).
 */
export function layerNormBackward(
  x: usize,
  gamma: usize,
  mean: usize,
  rstd: usize,
  g: usize,
  gx: usize,
  gGamma: usize,
  gBeta: usize,
  rows: i32,
  n: i32,
): void {
  const rowBytes = (<usize>n) << 2;
  const invN = <f32>1 / <f32>n;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r) * rowBytes;
    const gr = g + (<usize>r) * rowBytes;
    const gxr = gx + (<usize>r) * rowBytes;
    const mu = load<f32>(mean + ((<usize>r) << 2));
    const rs = load<f32>(rstd + ((<usize>r) << 2));
    // Pass 1: the two row means, and the parameter gradients.
    const muv = f32x4.splat(mu);
    const rsv = f32x4.splat(rs);
    let sumG4 = f32x4.splat(0);
    let sumGX4 = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rsv);
      const gj = v128.load(gr + o);
      const ghat = f32x4.mul(gj, v128.load(gamma + o));
      sumG4 = f32x4.add(sumG4, ghat);
      sumGX4 = f32x4.add(sumGX4, f32x4.mul(ghat, xhat));
      v128.store(gGamma + o, f32x4.add(v128.load(gGamma + o), f32x4.mul(gj, xhat)));
      v128.store(gBeta + o, f32x4.add(v128.load(gBeta + o), gj));
    }
    let sumG = lanesSum(sumG4);
    let sumGX = lanesSum(sumGX4);
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      const xhat = (load<f32>(xr + o) - mu) * rs;
      const gj = load<f32>(gr + o);
      const ghat = gj * load<f32>(gamma + o);
      sumG += ghat;
      sumGX += ghat * xhat;
      store<f32>(gGamma + o, load<f32>(gGamma + o) + gj * xhat);
      store<f32>(gBeta + o, load<f32>(gBeta + o) + gj);
    }
    const meanG = sumG * invN;
    const meanGX = sumGX * invN;
    const meanGv = f32x4.splat(meanG);
    const meanGXv = f32x4.splat(meanGX);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      const xhat = f32x4.mul(f32x4.sub(v128.load(xr + o), muv), rsv);
      const ghat = f32x4.mul(v128.load(gr + o), v128.load(gamma + o));
      v128.store(gxr + o, f32x4.mul(rsv, f32x4.sub(f32x4.sub(ghat, meanGv), f32x4.mul(xhat, meanGXv))));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      const xhat = (load<f32>(xr + o) - mu) * rs;
      store<f32>(gxr + o, rs * (load<f32>(gr + o) * load<f32>(gamma + o) - meanG - xhat * meanGX));
    }
  }
}

// ---- fused multi-head scaled dot-product attention -------------------------------------------------
//
// k and v are [batch · len, heads · headDim] row-major (head h owns columns h·headDim ..), the layout a
// linear projection produces, so heads need no transpose; q and out are [batch · queries, heads · headDim]:
// the last `queries` positions of each sequence ask (all of them in training; the last alone for a user's
// state, which needs no other). valid[b · len + t] is 1 for a real position and 0 for padding: padded keys
// get no weight, and a query with no key to attend (a padded query under left padding) outputs zeros.
// causal = 1 lets position t attend to positions ≤ t only. probs [batch, heads, queries, len] keeps the
// softmax weights for the backward pass (0 where masked). dropMask (0 = none) is a [batch, heads, queries,
// len] inverted-dropout mask on the weights: out = (probs ⊙ dropMask) · v.

@inline
function rowAt(base: usize, row: i32, width: i32, col: i32): usize {
  return base + (((<usize>row) * (<usize>width) + (<usize>col)) << 2);
}

export function attention(
  q: usize,
  k: usize,
  v: usize,
  valid: usize,
  batch: i32,
  len: i32,
  queries: i32,
  heads: i32,
  headDim: i32,
  causal: i32,
  scale: f32,
  dropMask: usize,
  probs: usize,
  out: usize,
): void {
  const width = heads * headDim;
  const block = (<usize>queries) * (<usize>len);
  for (let b = 0; b < batch; b++) {
    const row0 = b * len;
    for (let h = 0; h < heads; h++) {
      const col = h * headDim;
      const pBase = probs + (((<usize>(b * heads + h)) * block) << 2);
      const mBase: usize = dropMask == 0 ? <usize>0 : dropMask + (((<usize>(b * heads + h)) * block) << 2);
      for (let i = 0; i < queries; i++) {
        const t = len - queries + i; // the query's position
        const p = pBase + (((<usize>i) * (<usize>len)) << 2);
        const o = rowAt(out, b * queries + i, width, col);
        zeroRow(p, len);
        zeroRow(o, headDim);
        if (load<i32>(valid + ((<usize>(row0 + t)) << 2)) == 0) continue;
        const last = causal ? t : len - 1;
        const qi = rowAt(q, b * queries + i, width, col);
        let m: f32 = -Infinity;
        for (let j = 0; j <= last; j++) {
          if (load<i32>(valid + ((<usize>(row0 + j)) << 2)) == 0) continue;
          const s = dotF32(qi, rowAt(k, row0 + j, width, col), headDim) * scale;
          store<f32>(p + ((<usize>j) << 2), s);
          if (s > m) m = s;
        }
        if (m == -Infinity) continue; // no key to attend
        let total: f32 = 0;
        for (let j = 0; j <= last; j++) {
          if (load<i32>(valid + ((<usize>(row0 + j)) << 2)) == 0) continue;
          const e = Mathf.exp(load<f32>(p + ((<usize>j) << 2)) - m);
          store<f32>(p + ((<usize>j) << 2), e);
          total += e;
        }
        const inv = <f32>1 / total;
        for (let j = 0; j <= last; j++) {
          const pj = load<f32>(p + ((<usize>j) << 2)) * inv;
          store<f32>(p + ((<usize>j) << 2), pj);
          const w = mBase == 0 ? pj : pj * load<f32>(mBase + (((<usize>i) * (<usize>len) + (<usize>j)) << 2));
          if (w != 0) axpyRow(w, rowAt(v, row0 + j, width, col), o, headDim);
        }
      }
    }
  }
}

/**
 * Gradients of attention given gOut (same layout as out), from its saved probs: gq, gk and gv are
 * overwritten. With d = probs ⊙ mask the weights used: gv_j = Σ_i d_ij gOut_i; dP_ij = (gOut_i · v_j) · mask_ij;
 * dS_ij = p_ij (dP_ij − Σ_l p_il dP_il); gq_i = scale Σ_j dS_ij k_j; gk_j = scale Σ_i dS_ij q_i.
 */
export function attentionBackward(
  q: usize,
  k: usize,
  v: usize,
  valid: usize,
  batch: i32,
  len: i32,
  queries: i32,
  heads: i32,
  headDim: i32,
  causal: i32,
  scale: f32,
  dropMask: usize,
  probs: usize,
  gOut: usize,
  gq: usize,
  gk: usize,
  gv: usize,
  scratch: usize,
): void {
  const width = heads * headDim;
  const rows = batch * len;
  const block = (<usize>queries) * (<usize>len);
  memory.fill(gq, 0, ((<usize>(batch * queries)) * (<usize>width)) << 2);
  memory.fill(gk, 0, ((<usize>rows) * (<usize>width)) << 2);
  memory.fill(gv, 0, ((<usize>rows) * (<usize>width)) << 2);
  // scratch holds one row of dP (len floats).
  for (let b = 0; b < batch; b++) {
    const row0 = b * len;
    for (let h = 0; h < heads; h++) {
      const col = h * headDim;
      const pBase = probs + (((<usize>(b * heads + h)) * block) << 2);
      const mBase: usize = dropMask == 0 ? <usize>0 : dropMask + (((<usize>(b * heads + h)) * block) << 2);
      for (let i = 0; i < queries; i++) {
        const t = len - queries + i;
        if (load<i32>(valid + ((<usize>(row0 + t)) << 2)) == 0) continue;
        const last = causal ? t : len - 1;
        const p = pBase + (((<usize>i) * (<usize>len)) << 2);
        const gi = rowAt(gOut, b * queries + i, width, col);
        let c: f32 = 0;
        for (let j = 0; j <= last; j++) {
          const pj = load<f32>(p + ((<usize>j) << 2));
          if (pj == 0) {
            store<f32>(scratch + ((<usize>j) << 2), 0);
            continue;
          }
          const mij = mBase == 0 ? <f32>1 : load<f32>(mBase + (((<usize>i) * (<usize>len) + (<usize>j)) << 2));
          const vj = rowAt(v, row0 + j, width, col);
          if (mij != 0) axpyRow(pj * mij, gi, rowAt(gv, row0 + j, width, col), headDim);
          const dp = mij == 0 ? <f32>0 : dotF32(gi, vj, headDim) * mij;
          store<f32>(scratch + ((<usize>j) << 2), dp);
          c += pj * dp;
        }
        const qi = rowAt(q, b * queries + i, width, col);
        const gqi = rowAt(gq, b * queries + i, width, col);
        for (let j = 0; j <= last; j++) {
          const pj = load<f32>(p + ((<usize>j) << 2));
          if (pj == 0) continue;
          const ds = pj * (load<f32>(scratch + ((<usize>j) << 2)) - c) * scale;
          axpyRow(ds, rowAt(k, row0 + j, width, col), gqi, headDim);
          axpyRow(ds, qi, rowAt(gk, row0 + j, width, col), headDim);
        }
      }
    }
  }
}

// ---- dropout masks -----------------------------------------------------------------------------------

/**
 * out[0..n) = an inverted-dropout mask: 0 with probability p, else 1/(1 − p). Four xorshift32 streams run in
 * the SIMD lanes, started from `seed` (any value), so a mask is reproducible from its seed.
 */
export function dropoutMask(out: usize, n: i32, p: f32, seed: i32): void {
  const keep: f32 = p < 1 ? <f32>1 / (<f32>1 - p) : 0;
  // Compare 24-bit draws: a share p of them falls below the threshold.
  const threshold = <u32>(p * <f32>16777216);
  // Distinct nonzero lane seeds from one seed (a Weyl step of the golden ratio per lane).
  const base = <u32>seed;
  let s = i32x4(
    <i32>(base ^ 0x9e3779b9) | 1,
    <i32>(base + 0x3c6ef372) | 1,
    <i32>((base * 0x85ebca6b) ^ 0xdaa66d2b) | 1,
    <i32>((base + 0x78dde6e4) * 0xc2b2ae35) | 1,
  );
  const limit = i32x4.splat(<i32>threshold);
  const keepV = f32x4.splat(keep);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    s = v128.xor(s, i32x4.shl(s, 13));
    s = v128.xor(s, i32x4.shr_u(s, 17));
    s = v128.xor(s, i32x4.shl(s, 5));
    const dropped = i32x4.lt_s(i32x4.shr_u(s, 8), limit); // 24-bit values: signed compare is exact
    v128.store(out + ((<usize>j) << 2), v128.andnot(keepV, dropped));
  }
  for (; j < n; j++) {
    s = v128.xor(s, i32x4.shl(s, 13));
    s = v128.xor(s, i32x4.shr_u(s, 17));
    s = v128.xor(s, i32x4.shl(s, 5));
    const draw = <u32>i32x4.extract_lane(s, 0) >> 8;
    store<f32>(out + ((<usize>j) << 2), draw < threshold ? 0 : keep);
  }
}
