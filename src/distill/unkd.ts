/**
 * Unbiased knowledge distillation (UnKD; Chen et al., WSDM'23): plain ranking distillation hands the
 * student the teacher's popularity bias along with its ranking, since the teacher's top items are mostly
 * popular ones. UnKD splits the catalogue into popularity groups and distils the teacher's ranking only
 * within each group: per list, pairs of the list's unobserved items of one group are drawn by their rank
 * in the teacher's order within that group, and the student learns each pair's order (BPR's −log σ of
 * the score gap). No pair compares a popular item with an unpopular one, so how popular an item is says
 * nothing about which side of a pair it lands on.
 */
import type { DataRng } from "../data/rng.js";
import { Tensor, accumulate, record } from "../engine/tensor.js";
import { KIND_OBSERVED, type SoftLabels } from "./soft-labels.js";

/**
 * Each item's popularity group, 0 the most popular: the items, most popular first, cut into `groups`
 * groups holding about the same share of the training interactions each (the paper's split, so the head
 * group is a few items and the tail group many). Items of equal popularity share a group, so a group
 * boundary always lies between two popularity values; items never interacted with go to the last group.
 */
export function popularityGroups(popularity: ArrayLike<number>, groups: number): Int32Array {
  if (!Number.isInteger(groups) || groups < 1) {
    throw new RangeError(`popularityGroups: groups must be an integer ≥ 1, got ${groups}`);
  }
  const n = popularity.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => popularity[b]! - popularity[a]! || a - b);
  let total = 0;
  for (let i = 0; i < n; i++) total += popularity[i]!;
  const out = new Int32Array(n).fill(groups - 1);
  let before = 0;
  let group = 0;
  for (let k = 0; k < n; k++) {
    const item = order[k]!;
    const count = popularity[item]!;
    if (count === 0) break;
    // A new popularity value starts the group its share of interactions before it falls in.
    if (k === 0 || count !== popularity[order[k - 1]!]!)
      group = Math.min(groups - 1, Math.floor((groups * before) / total));
    out[item] = group;
    before += count;
  }
  return out;
}

/** Pairs of list columns, `better` above `worse` in the teacher's order; row r's are [offsets[r], offsets[r + 1]). */
export interface ListPairs {
  offsets: Int32Array;
  better: Int32Array;
  worse: Int32Array;
}

/**
 * UnKD's pairs for the soft-label lists `rows`: in each list, the unobserved slots (top-K and sampled)
 * grouped by their item's popularity group (`groupOf`); in every group with two items or more, the
 * group's items in the teacher's order and `pairsPerGroup` pairs of two distinct ranks, each drawn with
 * p ∝ e^{−rank/temperature} (a draw equal to the first is redrawn, as the paper's code does), the
 * better-ranked item above the other. Every pair lies within one group.
 */
export function stratifiedPairs(
  labels: SoftLabels,
  rows: Int32Array,
  groupOf: Int32Array,
  pairsPerGroup: number,
  temperature: number,
  rng: DataRng,
): ListPairs {
  const { listLength: L, items, kinds, teacherScores } = labels;
  const offsets = new Int32Array(rows.length + 1);
  const better: number[] = [];
  const worse: number[] = [];
  rows.forEach((r, k) => {
    const base = r * L;
    const members = new Map<number, number[]>();
    for (let c = 0; c < L; c++) {
      if (kinds[base + c] === KIND_OBSERVED) continue;
      const group = groupOf[items[base + c]!]!;
      let columns = members.get(group);
      if (!columns) members.set(group, (columns = []));
      columns.push(c);
    }
    for (const columns of members.values()) {
      if (columns.length < 2) continue;
      columns.sort((a, b) => teacherScores[base + b]! - teacherScores[base + a]! || a - b);
      for (let p = 0; p < pairsPerGroup; p++) {
        const a = discountedRank(columns.length, temperature, rng);
        let b = discountedRank(columns.length, temperature, rng);
        while (b === a) b = discountedRank(columns.length, temperature, rng);
        better.push(columns[Math.min(a, b)]!);
        worse.push(columns[Math.max(a, b)]!);
      }
    }
    offsets[k + 1] = better.length;
  });
  return { offsets, better: Int32Array.from(better), worse: Int32Array.from(worse) };
}

/** A rank of 0..n−1 with probability ∝ e^{−rank/temperature}: the inverse of its (truncated geometric) CDF. */
export function discountedRank(n: number, temperature: number, rng: DataRng): number {
  const q = Math.exp(-1 / temperature);
  const u = rng.next();
  return Math.min(n - 1, Math.floor(Math.log1p(-u * (1 - q ** n)) / Math.log(q)));
}

/**
 * The pairwise loss of the lists' student logits `scores` [R, L]: per row, the mean over its pairs of
 * −log σ(s_better − s_worse), averaged over the R rows (a row without pairs counts as 0).
 */
export function pairwiseListLoss(scores: Tensor, pairs: ListPairs): Tensor {
  if (scores.shape.length !== 2 || pairs.offsets.length !== scores.shape[0]! + 1) {
    throw new RangeError(
      `pairwiseListLoss: ${pairs.offsets.length - 1} rows of pairs for logits [${scores.shape.join(", ")}]`,
    );
  }
  const R = scores.shape[0]!;
  const L = scores.shape[1]!;
  const s = scores.data;
  const { offsets, better, worse } = pairs;
  // d/dgap of −log σ(gap) = −σ(−gap), per pair, scaled by the pair's share of the loss.
  const slopes = new Float64Array(better.length);
  let total = 0;
  for (let r = 0; r < R; r++) {
    const count = offsets[r + 1]! - offsets[r]!;
    for (let p = offsets[r]!; p < offsets[r + 1]!; p++) {
      const gap = s[r * L + better[p]!]! - s[r * L + worse[p]!]!;
      // −log σ(gap) = softplus(−gap), computed without overflow.
      total += (Math.max(-gap, 0) + Math.log1p(Math.exp(-Math.abs(gap)))) / count;
      slopes[p] = -1 / (1 + Math.exp(gap)) / count / R;
    }
  }
  const out = Tensor.from([R === 0 ? 0 : total / R], []);
  return record(out, [scores], (g) => {
    if (!scores.requiresGrad) return;
    const gs = Tensor.zeros(scores.shape);
    const gd = gs.data;
    const upstream = g.data[0]!;
    for (let r = 0; r < R; r++) {
      for (let p = offsets[r]!; p < offsets[r + 1]!; p++) {
        gd[r * L + better[p]!]! += upstream * slopes[p]!;
        gd[r * L + worse[p]!]! -= upstream * slopes[p]!;
      }
    }
    accumulate(scores, gs);
  });
}
