/**
 * Soft-label distillation losses: each returns a scalar Tensor (a mean over rows) differentiable in the
 * student's logits, built from the engine's ops (no dedicated kernel; the relaxed ranking loss is a small
 * custom op whose forward and backward are O(rows × list) loops in float64).
 *
 * The student logits come as [R, L] tensors over the soft-label lists of soft-labels.ts; the teacher's
 * side is always a constant (Float32Array), so no gradient can reach the teacher.
 */
import * as ops from "../engine/ops/index.js";
import { Tensor, accumulate, record } from "../engine/tensor.js";
import type { DataRng } from "../data/rng.js";
import { checkTemperature, sigmoidProbabilities } from "./soft-labels.js";

function fmt(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

function rowsOf(op: string, x: Tensor): { rows: number; cols: number } {
  if (x.shape.length !== 2) throw new RangeError(`${op}: student logits must be [rows, list], got ${fmt(x)}`);
  return { rows: x.shape[0]!, cols: x.shape[1]! };
}

/**
 * Pointwise soft-label loss: T² · BCE(student / T, sigmoid(teacher / T)), mean over every element; any
 * student shape, teacher logits with as many values.
 *
 * Why T²: the gradient of BCE(s/T, p) in s is (σ(s/T) − p) / T, and for moderate logits σ(s/T) − σ(t/T)
 * ≈ (s − t) / 4T, so it shrinks as 1/T². Multiplying by T² (Hinton et al.'s convention, as in
 * `ops.klDivergence`) keeps the gradient scale independent of T, so the loss weight and the temperature
 * can be tuned separately. Note that the value is the cross-entropy, not the KL: it does not reach 0 when
 * the student matches the teacher (it reaches T² · the teacher's binary entropy).
 */
export function pointwiseSoftLoss(studentLogits: Tensor, teacherLogits: Float32Array, T = 1): Tensor {
  checkTemperature("pointwiseSoftLoss", T);
  if (teacherLogits.length !== studentLogits.size) {
    throw new RangeError(
      `pointwiseSoftLoss: ${teacherLogits.length} teacher logits for student logits ${fmt(studentLogits)}`,
    );
  }
  const targets = sigmoidProbabilities(teacherLogits, T);
  const scaled = T === 1 ? studentLogits : ops.scale(studentLogits, 1 / T);
  const bce = ops.bceWithLogits(scaled, targets);
  return T === 1 ? bce : ops.scale(bce, T * T);
}

/**
 * Listwise distillation: T² · mean over rows of KL(softmax(teacher / T) ‖ softmax(student / T)) over each
 * row of the [R, L] list (ops.klDivergence); zero when the rows agree up to a per-row shift.
 */
export function listwiseKLLoss(studentLogits: Tensor, teacherLogits: Float32Array, T = 1): Tensor {
  rowsOf("listwiseKLLoss", studentLogits);
  checkTemperature("listwiseKLLoss", T);
  if (teacherLogits.length !== studentLogits.size) {
    throw new RangeError(
      `listwiseKLLoss: ${teacherLogits.length} teacher logits for student logits ${fmt(studentLogits)}`,
    );
  }
  return ops.klDivergence(studentLogits, Tensor.from(teacherLogits, studentLogits.shape), T);
}

/** Position weights of ranking distillation: w_r ∝ exp(−r / λ) for ranks r = 0..K−1, summing to 1. */
export function rankingWeights(K: number, lambda = 10): Float32Array {
  if (!(lambda > 0)) throw new RangeError(`rankingWeights: lambda must be positive, got ${lambda}`);
  const raw = Array.from({ length: K }, (_, r) => Math.exp(-r / lambda));
  const total = raw.reduce((a, b) => a + b, 0);
  return Float32Array.from(raw, (w) => w / total);
}

/**
 * The hybrid weights of ranking distillation (Tang & Wang, KDD'18 §2.3), [R, K]: per row, the position
 * weight w_r of `rankingWeights(K, lambda)` times the dynamic weight tanh(max(0, μ · (r̂_r − r))), L1-
 * normalised (a row the student already ranks at least as high as the teacher gets no weight). r̂_r, the
 * student's rank of the teacher's r-th item in a catalogue of `numItems`, is estimated from its rank among
 * N uniformly sampled unobserved items: r̂ = ⌊(numItems − 1) · #{n : u_n > s_r} / N⌋. `topK` [R × K] and
 * `sampled` [R × N] are the student's logits, read as constants: the weights carry no gradient.
 */
export function rankingHybridWeights(
  topK: Float32Array,
  sampled: Float32Array,
  K: number,
  numItems: number,
  options: { lambda?: number; mu?: number } = {},
): Float32Array {
  const { lambda = 10, mu = 0.1 } = options;
  if (!(mu > 0)) throw new RangeError(`rankingHybridWeights: mu must be positive, got ${mu}`);
  const rows = K === 0 ? 0 : topK.length / K;
  const N = rows === 0 ? 0 : sampled.length / rows;
  if (!Number.isInteger(rows) || !Number.isInteger(N) || N === 0) {
    throw new RangeError(`rankingHybridWeights: ${topK.length} top-K and ${sampled.length} sampled logits for K ${K}`);
  }
  const position = rankingWeights(K, lambda);
  const out = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    let total = 0;
    for (let k = 0; k < K; k++) {
      const s = topK[r * K + k]!;
      let above = 0;
      for (let n = 0; n < N; n++) if (sampled[r * N + n]! > s) above++;
      const estimated = Math.floor(((numItems - 1) * above) / N);
      const w = position[k]! * Math.tanh(Math.max(0, mu * (estimated - k)));
      out[r * K + k] = w;
      total += w;
    }
    if (total > 0) for (let k = 0; k < K; k++) out[r * K + k]! /= total;
  }
  return out;
}

/**
 * Ranking distillation (Tang & Wang, KDD'18): the teacher's top-K unobserved items are extra positives
 * weighted by rank, −mean over rows of Σ_r w_r log σ(s_r), with `studentTopK` [R, K] in the teacher's rank
 * order and w the position weights `rankingWeights(K, lambda)`, or per-row weights `rowWeights` [R × K]
 * (the hybrid weights of `rankingHybridWeights`).
 */
export function rankingDistillationLoss(studentTopK: Tensor, lambda = 10, rowWeights?: Float32Array): Tensor {
  const { rows, cols } = rowsOf("rankingDistillationLoss", studentTopK);
  if (rowWeights && rowWeights.length !== studentTopK.size) {
    throw new RangeError(`rankingDistillationLoss: ${rowWeights.length} weights for ${fmt(studentTopK)}`);
  }
  const w = rowWeights ? Tensor.from(rowWeights, [rows, cols]) : Tensor.from(rankingWeights(cols, lambda), [cols]);
  const weighted = ops.mul(ops.logSigmoid(studentTopK), w);
  return ops.scale(ops.sum(weighted), -1 / Math.max(rows, 1));
}

/**
 * DE-RRD's rank-discounted sampling: `k` distinct ranks of 0..n−1, drawn one after another without
 * replacement with probability ∝ e^{−r/temperature} (as torch.multinomial without replacement; here by
 * Gumbel top-k, which draws the same distribution in one pass), returned ascending, i.e. in the teacher's
 * order.
 */
export function rankDiscountedSample(n: number, k: number, temperature: number, rng: DataRng): Int32Array {
  if (!(temperature > 0))
    throw new RangeError(`rankDiscountedSample: temperature must be positive, got ${temperature}`);
  if (k > n) throw new RangeError(`rankDiscountedSample: ${k} draws from ${n} ranks`);
  const keys = Float64Array.from({ length: n }, (_, r) => -r / temperature - Math.log(-Math.log(1 - rng.next())));
  const order = Int32Array.from({ length: n }, (_, r) => r).sort((a, b) => keys[b]! - keys[a]!);
  return order.subarray(0, k).sort();
}

/** `k` distinct values of 0..n−1, uniformly (a partial Fisher–Yates shuffle), ascending. */
export function uniformSample(n: number, k: number, rng: DataRng): Int32Array {
  if (k > n) throw new RangeError(`uniformSample: ${k} draws from ${n} values`);
  const pool = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const swap = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = swap;
  }
  return pool.subarray(0, k).sort();
}

/**
 * Columns `columns` [R × C] (per row, indexes into its L entries) of `x` [R, L], as [R, C]; the gradient
 * is scattered back (summed where a column repeats).
 */
export function gatherColumns(x: Tensor, columns: Int32Array, C: number): Tensor {
  const { rows, cols: L } = rowsOf("gatherColumns", x);
  if (columns.length !== rows * C) {
    throw new RangeError(`gatherColumns: ${columns.length} columns for ${rows} rows of ${C}`);
  }
  for (const c of columns) if (c < 0 || c >= L) throw new RangeError(`gatherColumns: column ${c} outside [0, ${L})`);
  const out = Tensor.empty([rows, C]);
  const xd = x.data;
  const od = out.data;
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) od[r * C + c] = xd[r * L + columns[r * C + c]!]!;
  return record(out, [x], (g) => {
    if (!x.requiresGrad) return;
    const gx = Tensor.zeros(x.shape);
    const gxd = gx.data;
    const gd = g.data;
    for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) gxd[r * L + columns[r * C + c]!]! += gd[r * C + c]!;
    accumulate(x, gx);
  });
}

/** log(e^a + e^b) without overflow; either side may be −∞. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * Relaxed ranking distillation (DE-RRD, Kang et al., CIKM'20): a Plackett–Luce likelihood of the
 * teacher's order over the K "interesting" items, each competing against the items ranked below it and
 * every "uninteresting" item (whose own order is ignored):
 *
 *   −mean over rows of Σ_{k=1..K} [ s_k − log( Σ_{j=k..K} e^{s_j} + Σ_m e^{u_m} ) ]
 *
 * `studentInteresting` [R, K] is in the teacher's order, `studentUninteresting` [R, M]. The suffix
 * log-sum-exps come from one reverse scan per row (log-space, so any logit range is finite), and the
 * backward uses ∂/∂s_j = −1 + e^{s_j} Σ_{k≤j} 1/D_k and ∂/∂u_m = e^{u_m} Σ_k 1/D_k, with those sums also
 * kept in log space: O(R · (K + M)) both ways.
 */
export function relaxedRankingLoss(studentInteresting: Tensor, studentUninteresting: Tensor): Tensor {
  const op = "relaxedRankingLoss";
  const { rows, cols: K } = rowsOf(op, studentInteresting);
  const { rows: uRows, cols: M } = rowsOf(op, studentUninteresting);
  if (uRows !== rows) {
    throw new RangeError(
      `${op}: interesting ${fmt(studentInteresting)} and uninteresting ${fmt(studentUninteresting)} rows differ`,
    );
  }
  const s = studentInteresting.data;
  const u = studentUninteresting.data;
  // logD[r·K + k] = log(Σ_{j≥k} e^{s_j} + Σ_m e^{u_m}) of row r.
  const logD = new Float64Array(rows * K);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let acc = -Infinity;
    for (let m = 0; m < M; m++) acc = logAddExp(acc, u[r * M + m]!);
    for (let k = K - 1; k >= 0; k--) {
      const sk = s[r * K + k]!;
      acc = logAddExp(acc, sk);
      logD[r * K + k] = acc;
      total += sk - acc;
    }
  }
  const out = Tensor.from([rows === 0 ? 0 : -total / rows], []);
  return record(out, [studentInteresting, studentUninteresting], (g) => {
    const scale = rows === 0 ? 0 : g.data[0]! / rows;
    const gs = studentInteresting.requiresGrad ? Tensor.empty(studentInteresting.shape) : null;
    const gu = studentUninteresting.requiresGrad ? Tensor.empty(studentUninteresting.shape) : null;
    const gsd = gs?.data;
    const gud = gu?.data;
    const sd = studentInteresting.data;
    const ud = studentUninteresting.data;
    for (let r = 0; r < rows; r++) {
      // logP = log Σ_{k≤j} 1/D_k, growing with j.
      let logP = -Infinity;
      for (let j = 0; j < K; j++) {
        logP = logAddExp(logP, -logD[r * K + j]!);
        if (gsd) gsd[r * K + j] = scale * (Math.exp(sd[r * K + j]! + logP) - 1);
      }
      if (gud) for (let m = 0; m < M; m++) gud[r * M + m] = scale * Math.exp(ud[r * M + m]! + logP);
    }
    if (gs) accumulate(studentInteresting, gs);
    if (gu) accumulate(studentUninteresting, gu);
  });
}

/**
 * Multi-task soft loss: Σ_task weight_task · pointwiseSoftLoss(student_task, teacher_task, T) over the
 * student's heads (weight 1 unless given; heads with weight 0 are skipped). Every student head used must
 * have teacher logits; extra teacher heads are ignored.
 */
export function multiTaskSoftLoss(
  studentTasks: Record<string, Tensor>,
  teacherTasks: Record<string, Float32Array>,
  T = 1,
  weights: Record<string, number> = {},
): Tensor {
  let total: Tensor | null = null;
  for (const [name, logits] of Object.entries(studentTasks)) {
    const w = weights[name] ?? 1;
    if (w === 0) continue;
    const teacher = teacherTasks[name];
    if (!teacher) {
      throw new RangeError(
        `multiTaskSoftLoss: no teacher logits for task "${name}" (teacher tasks: ${Object.keys(teacherTasks).join(", ") || "none"})`,
      );
    }
    const term = pointwiseSoftLoss(logits, teacher, T);
    const weighted = w === 1 ? term : ops.scale(term, w);
    total = total ? ops.add(total, weighted) : weighted;
  }
  if (!total) throw new RangeError("multiTaskSoftLoss: no task with a non-zero weight");
  return total;
}
