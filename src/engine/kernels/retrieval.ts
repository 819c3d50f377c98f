// Top-k retrieval: score the rows of an f32 or int8 table against one query and keep the best k in a
// caller-provided heap, so only k (item, score) pairs leave WebAssembly instead of one score per row.
//
// The heap is a binary min-heap of (score, item) pairs ordered by "worse": a lower score, or an equal score
// and a higher item. Its root is the worst pair kept, and once the heap is full the root's score is the
// threshold a row must reach. Rows are scored four at a time and tested against the threshold with one SIMD
// compare; only a row that reaches it reads the exclusion mask and touches the heap, so most rows cost their
// dot product and a quarter of a branch.

import { dotF32x4 } from "./rows";

/**
 * Offer rows [0, count) of a row-major f32 table [count, dim] to a heap of capacity k holding `size` pairs
 * (items[i], scores[i]); returns the heap's new size. A row's item is ids[row] (ids = 0: the row itself); an
 * item with mask[item] ≠ 0 is skipped (mask = 0: none). Scores are query · row.
 */
export function topKF32(
  table: usize,
  query: usize,
  count: i32,
  dim: i32,
  ids: usize,
  mask: usize,
  k: i32,
  items: usize,
  scores: usize,
  size: i32,
): i32 {
  if (k <= 0) return size;
  const rowBytes = (<usize>dim) << 2;
  let threshold = f32x4.splat(thresholdOf(scores, size, k));
  let r = 0;
  for (; r + 4 <= count; r += 4) {
    const row = table + (<usize>r) * rowBytes;
    const s = dotF32x4(row, row + rowBytes, row + 2 * rowBytes, row + 3 * rowBytes, query, dim);
    if (!v128.any_true(f32x4.ge(s, threshold))) continue;
    size = offerLanes(s, r, 4, ids, mask, k, items, scores, size);
    threshold = f32x4.splat(thresholdOf(scores, size, k));
  }
  if (r < count) {
    // The last block of fewer than four rows scores its last row again in the spare lanes.
    const last = table + (<usize>(count - 1)) * rowBytes;
    const row = table + (<usize>r) * rowBytes;
    const s = dotF32x4(row, min(row + rowBytes, last), min(row + 2 * rowBytes, last), last, query, dim);
    size = offerLanes(s, r, count - r, ids, mask, k, items, scores, size);
  }
  return size;
}

/**
 * topKF32 over an int8 table [count, dim] with one scale per row: a row scores
 * scales[row] · queryScale · Σ table[row, j] · query[j], the int8 products summed exactly in i32 (|dot| < 2^24
 * for dim < 1040, so its conversion to f32 is exact too).
 */
export function topKInt8(
  table: usize,
  rowScales: usize,
  query: usize,
  queryScale: f32,
  count: i32,
  dim: i32,
  ids: usize,
  mask: usize,
  k: i32,
  items: usize,
  scores: usize,
  size: i32,
): i32 {
  if (k <= 0) return size;
  const rowBytes = <usize>dim;
  const qs = f32x4.splat(queryScale);
  let threshold = f32x4.splat(thresholdOf(scores, size, k));
  let r = 0;
  for (; r + 4 <= count; r += 4) {
    const row = table + (<usize>r) * rowBytes;
    const dots = dotInt8x4(row, row + rowBytes, row + 2 * rowBytes, row + 3 * rowBytes, query, dim);
    const scale = f32x4.mul(v128.load(rowScales + ((<usize>r) << 2)), qs);
    const s = f32x4.mul(f32x4.convert_i32x4_s(dots), scale);
    if (!v128.any_true(f32x4.ge(s, threshold))) continue;
    size = offerLanes(s, r, 4, ids, mask, k, items, scores, size);
    threshold = f32x4.splat(thresholdOf(scores, size, k));
  }
  if (r < count) {
    // As in topKF32: the spare lanes of the last block repeat its last row.
    const r1 = min(r + 1, count - 1);
    const r2 = min(r + 2, count - 1);
    const r3 = count - 1;
    const dots = dotInt8x4(
      table + (<usize>r) * rowBytes,
      table + (<usize>r1) * rowBytes,
      table + (<usize>r2) * rowBytes,
      table + (<usize>r3) * rowBytes,
      query,
      dim,
    );
    let scale = f32x4.splat(load<f32>(rowScales + ((<usize>r) << 2)));
    scale = f32x4.replace_lane(scale, 1, load<f32>(rowScales + ((<usize>r1) << 2)));
    scale = f32x4.replace_lane(scale, 2, load<f32>(rowScales + ((<usize>r2) << 2)));
    scale = f32x4.replace_lane(scale, 3, load<f32>(rowScales + ((<usize>r3) << 2)));
    const s = f32x4.mul(f32x4.convert_i32x4_s(dots), f32x4.mul(scale, qs));
    size = offerLanes(s, r, count - r, ids, mask, k, items, scores, size);
  }
  return size;
}

/** Turn a heap of `size` pairs into a list sorted best first (higher score, then lower item), in place. */
export function sortTopK(items: usize, scores: usize, size: i32): void {
  // Heapsort: the worst pair (the root) moves behind the shrinking heap, so the best ends up first.
  for (let end = size - 1; end > 0; end--) {
    const e = (<usize>end) << 2;
    const item = load<i32>(items + e);
    const score = load<f32>(scores + e);
    store<i32>(items + e, load<i32>(items));
    store<f32>(scores + e, load<f32>(scores));
    siftDown(items, scores, end, item, score);
  }
}

// ---- scoring ------------------------------------------------------------------------------------

/** Lane i = Σ row_i[j] · query[j] over dim int8 values, exactly in i32. */
@inline
function dotInt8x4(a0: usize, a1: usize, a2: usize, a3: usize, query: usize, dim: i32): v128 {
  let d0 = i32x4.splat(0);
  let d1 = i32x4.splat(0);
  let d2 = i32x4.splat(0);
  let d3 = i32x4.splat(0);
  let j = 0;
  // load8x8_s sign-extends 8 bytes to i16x8 as it loads; dot_i16x8_s multiplies and adds pairs into i32x4.
  // Two of them a step: fewer loop branches, and the query's two halves serve all four rows.
  for (; j + 16 <= dim; j += 16) {
    const o = <usize>j;
    const q = v128.load8x8_s(query + o);
    const p = v128.load8x8_s(query + o, 8);
    d0 = i32x4.add(d0, i32x4.add(dotI16(a0 + o, q), dotI16(a0 + o + 8, p)));
    d1 = i32x4.add(d1, i32x4.add(dotI16(a1 + o, q), dotI16(a1 + o + 8, p)));
    d2 = i32x4.add(d2, i32x4.add(dotI16(a2 + o, q), dotI16(a2 + o + 8, p)));
    d3 = i32x4.add(d3, i32x4.add(dotI16(a3 + o, q), dotI16(a3 + o + 8, p)));
  }
  if (j + 8 <= dim) {
    const o = <usize>j;
    const q = v128.load8x8_s(query + o);
    d0 = i32x4.add(d0, dotI16(a0 + o, q));
    d1 = i32x4.add(d1, dotI16(a1 + o, q));
    d2 = i32x4.add(d2, dotI16(a2 + o, q));
    d3 = i32x4.add(d3, dotI16(a3 + o, q));
    j += 8;
  }
  const t0 = i32x4.add(v128.shuffle<i32>(d0, d1, 0, 4, 1, 5), v128.shuffle<i32>(d0, d1, 2, 6, 3, 7));
  const t1 = i32x4.add(v128.shuffle<i32>(d2, d3, 0, 4, 1, 5), v128.shuffle<i32>(d2, d3, 2, 6, 3, 7));
  let sums = i32x4.add(v128.shuffle<i32>(t0, t1, 0, 1, 4, 5), v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
  for (; j < dim; j++) {
    const o = <usize>j;
    let v = i32x4.splat(<i32>load<i8>(a0 + o));
    v = i32x4.replace_lane(v, 1, <i32>load<i8>(a1 + o));
    v = i32x4.replace_lane(v, 2, <i32>load<i8>(a2 + o));
    v = i32x4.replace_lane(v, 3, <i32>load<i8>(a3 + o));
    sums = i32x4.add(sums, i32x4.mul(i32x4.splat(<i32>load<i8>(query + o)), v));
  }
  return sums;
}

/** Eight int8 values at `row`, sign-extended, dotted with eight i16 query values: pairwise sums in i32x4. */
@inline
function dotI16(row: usize, q: v128): v128 {
  return i32x4.dot_i16x8_s(v128.load8x8_s(row), q);
}

// ---- the heap -----------------------------------------------------------------------------------

@inline
function thresholdOf(scores: usize, size: i32, k: i32): f32 {
  return size < k ? f32.NEGATIVE_INFINITY : load<f32>(scores);
}

/** Offer the first `lanes` lanes of a block of scores for rows r, r + 1, …; returns the heap's new size. */
@inline
function offerLanes(s: v128, r: i32, lanes: i32, ids: usize, mask: usize, k: i32, items: usize, scores: usize, size: i32): i32 {
  size = offer(f32x4.extract_lane(s, 0), r, ids, mask, k, items, scores, size);
  if (lanes > 1) size = offer(f32x4.extract_lane(s, 1), r + 1, ids, mask, k, items, scores, size);
  if (lanes > 2) size = offer(f32x4.extract_lane(s, 2), r + 2, ids, mask, k, items, scores, size);
  if (lanes > 3) size = offer(f32x4.extract_lane(s, 3), r + 3, ids, mask, k, items, scores, size);
  return size;
}

function offer(score: f32, row: i32, ids: usize, mask: usize, k: i32, items: usize, scores: usize, size: i32): i32 {
  const item = ids ? load<i32>(ids + ((<usize>row) << 2)) : row;
  if (mask && load<u8>(mask + <usize>item)) return size;
  if (size < k) {
    siftUp(items, scores, size, item, score);
    return size + 1;
  }
  if (!isWorse(load<f32>(scores), load<i32>(items), score, item)) return size;
  siftDown(items, scores, size, item, score);
  return size;
}

@inline
function isWorse(scoreA: f32, itemA: i32, scoreB: f32, itemB: i32): bool {
  return scoreA < scoreB || (scoreA == scoreB && itemA > itemB);
}

/** Insert (item, score) into a heap of `size` pairs that has room for one more. */
function siftUp(items: usize, scores: usize, size: i32, item: i32, score: f32): void {
  let pos = size;
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    const p = (<usize>parent) << 2;
    if (!isWorse(score, item, load<f32>(scores + p), load<i32>(items + p))) break;
    store<i32>(items + ((<usize>pos) << 2), load<i32>(items + p));
    store<f32>(scores + ((<usize>pos) << 2), load<f32>(scores + p));
    pos = parent;
  }
  store<i32>(items + ((<usize>pos) << 2), item);
  store<f32>(scores + ((<usize>pos) << 2), score);
}

/** Replace the root of a heap of `size` pairs with (item, score) and restore the order. */
function siftDown(items: usize, scores: usize, size: i32, item: i32, score: f32): void {
  let pos = 0;
  while (true) {
    let child = 2 * pos + 1;
    if (child >= size) break;
    let c = (<usize>child) << 2;
    if (child + 1 < size && isWorse(load<f32>(scores + c + 4), load<i32>(items + c + 4), load<f32>(scores + c), load<i32>(items + c))) {
      child++;
      c += 4;
    }
    if (!isWorse(load<f32>(scores + c), load<i32>(items + c), score, item)) break;
    store<i32>(items + ((<usize>pos) << 2), load<i32>(items + c));
    store<f32>(scores + ((<usize>pos) << 2), load<f32>(scores + c));
    pos = child;
  }
  store<i32>(items + ((<usize>pos) << 2), item);
  store<f32>(scores + ((<usize>pos) << 2), score);
}
