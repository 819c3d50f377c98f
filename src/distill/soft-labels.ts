/**
 * Soft labels: what the teacher thinks of a fixed-length candidate list per user, generated once and
 * cached on disk, so student training never runs the teacher.
 *
 * Each row (one user) holds a list of L = P + K + N items in three positional slices:
 *
 *   [0, P)        observed positives of the user (train items; kind 0)
 *   [P, P + K)    the teacher's top-K unobserved items, in the teacher's rank order (kind 2)
 *   [P + K, L)    uniformly sampled unobserved items, distinct, outside the top-K (kind 1)
 *
 * with the teacher's raw logits for every slot. Temperatures are applied when a loss is computed, never
 * stored, so one file serves every temperature. A user with 0 < c < P train items repeats them to fill
 * the observed slice; a user with none gets sampled negatives there (kind 1), so the slices keep their
 * positions and `kinds` tells the truth.
 *
 * ## Cache file format (version 1)
 *
 * The container of parameter files (src/engine/container.ts, docs/FORMAT.md), with its own magic and
 * header. All integers little-endian.
 *
 * | bytes              | content                                                                      |
 * | ------------------ | ---------------------------------------------------------------------------- |
 * | 0–7                | magic `DRECSOFT` (ASCII)                                                     |
 * | 8–11               | u32 format version (1)                                                       |
 * | 12–15              | u32 header length H in bytes                                                 |
 * | 16 … 16+H          | UTF-8 JSON header (below)                                                    |
 * | … D                | zero padding up to D = ceil((16 + H) / 64) · 64, the start of the data       |
 * | D + offset …       | one block per array, `offset` relative to D, 64-byte aligned, zero-padded    |
 * | last 4 bytes       | u32 CRC-32 (zlib) of every preceding byte                                    |
 *
 * Header: `{ rows, listLength, topK, positives, negatives, arrays: [{ name, dtype, offset, byteLength }],
 * meta }` with dtype "i32" | "f32" | "u8". Arrays: `users` (i32, rows), `items` (i32, rows·L),
 * `teacherScores` (f32, rows·L), `kinds` (u8, rows·L), `topKItems` (i32, rows·K) and, for multi-task
 * teachers, `task:<name>` (f32, rows·L) per task head. `meta` is free JSON (teacher id, seed, dataset
 * fingerprint, generation options) compared by `loadOrGenerate` through `softLabelsFingerprint`.
 * Files are written atomically (temporary file, fsync, rename); truncated, corrupted, wrong-magic or
 * inconsistent files are refused with a `SoftLabelFileError` naming the file.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { DataRng } from "../data/rng.js";
import { UniformSampler, sampleCandidates, type UserItemIndex } from "../data/sampling.js";
import {
  decodeContainer,
  encodeContainer,
  HeaderProblem,
  isCount,
  isPlainObject,
  writeFileAtomic,
} from "../engine/container.js";
import type { Module } from "../engine/nn.js";
import { Ids } from "../engine/ops/embedding.js";
import { endStep, noGrad } from "../engine/tensor.js";
import type { HistoryInputs } from "../models/context.js";
import type { Recommender } from "../models/recommender.js";
import { FileError } from "../engine/errors.js";

/** Slot kinds in `SoftLabels.kinds`. */
export const KIND_OBSERVED = 0;
export const KIND_NEGATIVE = 1;
export const KIND_TOP_K = 2;

/** The teacher's view of one candidate list per user (see the file comment for the layout). */
export interface SoftLabels {
  /** The user of each row. */
  users: Int32Array;
  /** L = positives + topK + negatives. */
  listLength: number;
  /** P: width of the observed slice [0, P). */
  positives: number;
  /** K: width of the top-K slice [P, P + K). */
  topK: number;
  /** N: width of the sampled-negative slice [P + K, L). */
  negatives: number;
  /** Candidate items, [rows × L]. */
  items: Int32Array;
  /** The teacher's logits for `items`, [rows × L]. */
  teacherScores: Float32Array;
  /** 0 = observed positive, 1 = sampled negative, 2 = teacher top-K; [rows × L]. */
  kinds: Uint8Array;
  /** The teacher's top-K unobserved items in rank order, [rows × K] (the same as the top-K slice). */
  topKItems: Int32Array;
  /** Per task head, the teacher's logits for `items` [rows × L] (multi-task teachers). */
  taskScores?: Record<string, Float32Array>;
}

/** Options of `generateSoftLabels`. */
export interface SoftLabelOptions {
  /** Users to build lists for, one row each, in this order. */
  users: Int32Array;
  /** Train items per user: observed positives come from here; top-K and negatives avoid them. */
  seen: UserItemIndex;
  /** P, observed items per list (default 1). */
  positivesPerUser?: number;
  /** How observed items are chosen: seeded random (default) or the latest ones in `histories`. */
  positiveSelection?: "random" | "recent";
  /** Chronological histories for "recent" (default: the teacher's context.histories). */
  histories?: HistoryInputs;
  /** N, uniform unobserved negatives per list. */
  negatives: number;
  /** K, teacher top-K unobserved items per list. */
  topK: number;
  seed: number;
  /** Catalogue size (items 0..numItems-1). */
  numItems: number;
  /** Also record every task head's logits (teacher.forwardTasks) in `taskScores`. */
  tasks?: boolean;
}

function checkCount(what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`generateSoftLabels: ${what} must be an integer ≥ ${min}, got ${value}`);
  }
}

/**
 * Score the catalogue with the teacher once per user and build the candidate lists. The teacher's
 * scorer resets the scratch arena, so call this between training steps, never with live scratch tensors.
 */
export function generateSoftLabels(teacher: Recommender, options: SoftLabelOptions): SoftLabels {
  const { users, seen, negatives, topK, numItems, seed } = options;
  const positives = options.positivesPerUser ?? 1;
  checkCount("positivesPerUser", positives, 0);
  checkCount("negatives", negatives, 0);
  checkCount("topK", topK, 0);
  checkCount("numItems", numItems, 1);
  const L = positives + topK + negatives;
  if (L === 0) throw new RangeError("generateSoftLabels: the lists would be empty (P + K + N = 0)");
  const selection = options.positiveSelection ?? "random";
  const histories = options.histories ?? teacher.context.histories;
  if (selection === "recent" && !histories) {
    throw new Error('generateSoftLabels: positiveSelection "recent" needs histories (none given, none in context)');
  }

  const rows = users.length;
  const items = new Int32Array(rows * L);
  const teacherScores = new Float32Array(rows * L);
  const kinds = new Uint8Array(rows * L);
  const topKItems = new Int32Array(rows * topK);
  // Two independent streams, so changing P does not change which negatives are drawn.
  const positiveRng = new DataRng(seed);
  const sampler = new UniformSampler(seen, numItems, { seed: (seed ^ 0x2545f491) | 0 });
  const scorer = noGrad(() => teacher.scorer());

  for (let r = 0; r < rows; r++) {
    const user = users[r]!;
    const seenItems = user < seen.numUsers ? seen.itemsOf(user) : new Int32Array(0);
    const scores = noGrad(() => scorer.scoreAll({ user }));
    if (scores.length < numItems) {
      throw new Error(`generateSoftLabels: the teacher scored ${scores.length} items, expected ${numItems}`);
    }
    const base = r * L;

    // Observed slice.
    const chosen =
      selection === "recent"
        ? recentPositives(histories!, seen, user, positives, positiveRng)
        : randomPositives(seenItems, positives, positiveRng);
    const fill = positives - chosen.length;
    const extra =
      fill > 0 && chosen.length === 0 ? drawNegatives(user, [], fill, sampler, seen, numItems) : new Int32Array(0);
    for (let j = 0; j < positives; j++) {
      if (chosen.length > 0) {
        items[base + j] = chosen[j % chosen.length]!;
        kinds[base + j] = KIND_OBSERVED;
      } else {
        items[base + j] = extra[j]!;
        kinds[base + j] = KIND_NEGATIVE;
      }
    }

    // Top-K slice, best first.
    const best = topUnseen(scores, numItems, seenItems, topK, user);
    topKItems.set(best, r * topK);
    items.set(best, base + positives);
    kinds.fill(KIND_TOP_K, base + positives, base + positives + topK);

    // Negative slice: distinct, unseen, outside the top-K (and outside negatives used as fillers).
    const exclude = Array.from(best);
    for (const e of extra) exclude.push(e);
    const negs = drawNegatives(user, exclude, negatives, sampler, seen, numItems);
    items.set(negs, base + positives + topK);
    kinds.fill(KIND_NEGATIVE, base + positives + topK, base + L);

    for (let j = 0; j < L; j++) teacherScores[base + j] = scores[items[base + j]!]!;
  }

  const labels: SoftLabels = {
    users: Int32Array.from(users),
    listLength: L,
    positives,
    topK,
    negatives,
    items,
    teacherScores,
    kinds,
    topKItems,
  };
  if (options.tasks) labels.taskScores = teacherTaskScores(teacher, labels);
  return labels;
}

/** Up to `p` distinct observed items, a seeded random choice (partial Fisher–Yates on a copy). */
function randomPositives(seenItems: Int32Array, p: number, rng: DataRng): Int32Array {
  const pool = Int32Array.from(seenItems);
  const take = Math.min(p, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(pool.length - i);
    const swap = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = swap;
  }
  return pool.subarray(0, take);
}

/** Up to `p` distinct train items the user interacted with last (newest first), random ones when too few. */
function recentPositives(
  histories: HistoryInputs,
  seen: UserItemIndex,
  user: number,
  p: number,
  rng: DataRng,
): Int32Array {
  const out: number[] = [];
  const taken = new Set<number>();
  if (user < histories.offsets.length - 1 && user < seen.numUsers) {
    const start = histories.offsets[user]!;
    for (let k = histories.offsets[user + 1]! - 1; k >= start && out.length < p; k--) {
      const item = histories.items[k]!;
      if (!taken.has(item) && seen.has(user, item)) {
        taken.add(item);
        out.push(item);
      }
    }
  }
  if (out.length < p && user < seen.numUsers) {
    const rest = seen.itemsOf(user).filter((i) => !taken.has(i));
    for (const i of randomPositives(rest, p - out.length, rng)) out.push(i);
  }
  return Int32Array.from(out);
}

/** `n` distinct unseen negatives outside `exclude`, with a clear error when the user has too few unseen items. */
function drawNegatives(
  user: number,
  exclude: number[],
  n: number,
  sampler: UniformSampler,
  seen: UserItemIndex,
  numItems: number,
): Int32Array {
  if (n === 0) return new Int32Array(0);
  const seenCount = user < seen.numUsers ? seen.count(user) : 0;
  const available = numItems - seenCount - exclude.length;
  if (available < n) {
    throw new RangeError(
      `generateSoftLabels: user ${user} has ${numItems - seenCount} unseen items, too few for ` +
        `${exclude.length} top-K/filler items plus ${n} distinct negatives`,
    );
  }
  return sampleCandidates(user, exclude, n, sampler);
}

/**
 * The `k` highest-scored items outside `seenItems` (ascending), best first; ties go to the smaller item
 * id and NaN scores rank last. A size-k min-heap makes this O(n log k) with no full sort.
 */
export function topUnseen(
  scores: Float32Array,
  numItems: number,
  seenItems: Int32Array,
  k: number,
  user = -1,
): Int32Array {
  if (k === 0) return new Int32Array(0);
  const heapItems = new Int32Array(k);
  const heapScores = new Float64Array(k);
  let size = 0;
  // worse(a, b): a ranks below b.
  const worse = (sa: number, ia: number, sb: number, ib: number): boolean => sa < sb || (sa === sb && ia > ib);
  const siftDown = (at: number): void => {
    for (;;) {
      const l = 2 * at + 1;
      if (l >= size) return;
      const r = l + 1;
      let m = l;
      if (r < size && worse(heapScores[r]!, heapItems[r]!, heapScores[l]!, heapItems[l]!)) m = r;
      if (!worse(heapScores[m]!, heapItems[m]!, heapScores[at]!, heapItems[at]!)) return;
      swap(at, m);
      at = m;
    }
  };
  const swap = (a: number, b: number): void => {
    const s = heapScores[a]!;
    heapScores[a] = heapScores[b]!;
    heapScores[b] = s;
    const i = heapItems[a]!;
    heapItems[a] = heapItems[b]!;
    heapItems[b] = i;
  };
  let next = 0; // pointer into the ascending seen list
  for (let item = 0; item < numItems; item++) {
    while (next < seenItems.length && seenItems[next]! < item) next++;
    if (next < seenItems.length && seenItems[next] === item) continue;
    const raw = scores[item]!;
    const s = Number.isNaN(raw) ? -Infinity : raw;
    // Most items lose against the heap's worst once it is full: one comparison, no call.
    if (size === k && (s < heapScores[0]! || (s === heapScores[0]! && item > heapItems[0]!))) continue;
    if (size < k) {
      heapScores[size] = s;
      heapItems[size] = item;
      // Sift up.
      let at = size++;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!worse(heapScores[at]!, heapItems[at]!, heapScores[parent]!, heapItems[parent]!)) break;
        swap(at, parent);
        at = parent;
      }
    } else {
      heapScores[0] = s;
      heapItems[0] = item;
      siftDown(0);
    }
  }
  if (size < k) {
    throw new RangeError(`generateSoftLabels: user ${user} has ${size} unseen items, fewer than topK = ${k}`);
  }
  // Pop worst-first into the back of the output.
  const out = new Int32Array(k);
  for (let i = k - 1; i >= 0; i--) {
    out[i] = heapItems[0]!;
    size--;
    if (size > 0) {
      heapScores[0] = heapScores[size]!;
      heapItems[0] = heapItems[size]!;
      siftDown(0);
    }
  }
  return out;
}

/** Every task head's logits for the lists, via teacher.forwardTasks in chunks of whole rows. */
function teacherTaskScores(teacher: Recommender, labels: SoftLabels): Record<string, Float32Array> {
  const L = labels.listLength;
  const rows = labels.users.length;
  const out: Record<string, Float32Array> = {};
  const rowsPerChunk = Math.max(1, Math.floor(4096 / L));
  noGrad(() => {
    for (let start = 0; start < rows; start += rowsPerChunk) {
      const end = Math.min(rows, start + rowsPerChunk);
      const users = new Int32Array((end - start) * L);
      for (let r = start; r < end; r++) users.fill(labels.users[r]!, (r - start) * L, (r - start + 1) * L);
      const items = labels.items.subarray(start * L, end * L);
      const heads = teacher.forwardTasks({ users: new Ids(users), items: new Ids(items) });
      for (const [name, logits] of Object.entries(heads)) {
        (out[name] ??= new Float32Array(rows * L)).set(logits.data, start * L);
      }
      endStep();
    }
  });
  return out;
}

// ---- teacher probabilities -----------------------------------------------------------------------

function checkTemperature(op: string, T: number): void {
  if (!(T > 0) || !Number.isFinite(T)) throw new RangeError(`${op}: temperature must be positive and finite, got ${T}`);
}

/** Pointwise soft targets: sigmoid(s / T) for every score. */
export function sigmoidProbabilities(scores: Float32Array, T = 1): Float32Array {
  checkTemperature("sigmoidProbabilities", T);
  return Float32Array.from(scores, (s) => 1 / (1 + Math.exp(-s / T)));
}

/** Listwise soft targets: softmax(s / T) over each row of `listLength` scores (max-subtracted, float64 sums). */
export function softmaxProbabilities(scores: Float32Array, listLength: number, T = 1): Float32Array {
  checkTemperature("softmaxProbabilities", T);
  if (!(listLength > 0) || scores.length % listLength !== 0) {
    throw new RangeError(`softmaxProbabilities: ${scores.length} scores do not form rows of ${listLength}`);
  }
  const out = new Float32Array(scores.length);
  for (let base = 0; base < scores.length; base += listLength) {
    let max = -Infinity;
    for (let j = 0; j < listLength; j++) max = Math.max(max, scores[base + j]!);
    let total = 0;
    for (let j = 0; j < listLength; j++) total += Math.exp((scores[base + j]! - max) / T);
    for (let j = 0; j < listLength; j++) out[base + j] = Math.exp((scores[base + j]! - max) / T) / total;
  }
  return out;
}

/** The teacher's probabilities for a label set: pointwise sigmoid(s/T) or listwise softmax(s/T) per row. */
export function teacherProbabilities(labels: SoftLabels, T: number, mode: "pointwise" | "listwise"): Float32Array {
  return mode === "pointwise"
    ? sigmoidProbabilities(labels.teacherScores, T)
    : softmaxProbabilities(labels.teacherScores, labels.listLength, T);
}

/** Row of each user in `labels` (user → row, -1 when absent; the last row wins for repeated users). */
export function softLabelRowIndex(labels: SoftLabels, numUsers?: number): Int32Array {
  let max = numUsers ?? 0;
  for (const u of labels.users) max = Math.max(max, u + 1);
  const index = new Int32Array(max).fill(-1);
  labels.users.forEach((u, r) => (index[u] = r));
  return index;
}

// ---- cache file ----------------------------------------------------------------------------------

/** A file (or buffer) that is not a valid soft-label cache. */
export class SoftLabelFileError extends FileError {}

export const SOFT_LABEL_FORMAT_VERSION = 1;
const MAGIC = "DRECSOFT";
type ArrayDtype = "i32" | "f32" | "u8";
const DTYPE_BYTES: Record<ArrayDtype, number> = { i32: 4, f32: 4, u8: 1 };
const TASK_PREFIX = "task:";

interface ArrayEntry {
  name: string;
  dtype: ArrayDtype;
  offset: number;
  byteLength: number;
}

type AnyArray = Int32Array | Float32Array | Uint8Array;

function namedArrays(labels: SoftLabels): [string, ArrayDtype, AnyArray][] {
  const out: [string, ArrayDtype, AnyArray][] = [
    ["users", "i32", labels.users],
    ["items", "i32", labels.items],
    ["teacherScores", "f32", labels.teacherScores],
    ["kinds", "u8", labels.kinds],
    ["topKItems", "i32", labels.topKItems],
  ];
  for (const [name, values] of Object.entries(labels.taskScores ?? {})) out.push([TASK_PREFIX + name, "f32", values]);
  return out;
}

/** The element count each array must have for a header's dimensions. */
function expectedLength(name: string, rows: number, listLength: number, topK: number): number | undefined {
  if (name === "users") return rows;
  if (name === "topKItems") return rows * topK;
  if (name === "items" || name === "teacherScores" || name === "kinds" || name.startsWith(TASK_PREFIX)) {
    return rows * listLength;
  }
  return undefined;
}

function expectedDtype(name: string): ArrayDtype | undefined {
  if (name === "users" || name === "items" || name === "topKItems") return "i32";
  if (name === "kinds") return "u8";
  if (name === "teacherScores" || name.startsWith(TASK_PREFIX)) return "f32";
  return undefined;
}

/** Serialise soft labels and JSON metadata into one cache file image. */
export function encodeSoftLabels(labels: SoftLabels, meta: Record<string, unknown> = {}): Buffer {
  const rows = labels.users.length;
  const { listLength, topK, positives, negatives } = labels;
  if (positives + topK + negatives !== listLength) {
    throw new RangeError(`encodeSoftLabels: P ${positives} + K ${topK} + N ${negatives} ≠ listLength ${listLength}`);
  }
  const arrays = namedArrays(labels);
  const blocks = arrays.map(([name, , values]) => {
    const want = expectedLength(name, rows, listLength, topK)!;
    if (values.length !== want) {
      throw new RangeError(`encodeSoftLabels: array "${name}" has ${values.length} values, expected ${want}`);
    }
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  });
  return encodeContainer({
    magic: MAGIC,
    version: SOFT_LABEL_FORMAT_VERSION,
    blocks,
    header: (offsets) => {
      const entries: ArrayEntry[] = arrays.map(([name, dtype], i) => ({
        name,
        dtype,
        offset: offsets[i]!,
        byteLength: blocks[i]!.byteLength,
      }));
      try {
        return JSON.stringify({ rows, listLength, topK, positives, negatives, arrays: entries, meta });
      } catch (err) {
        throw new TypeError(`encodeSoftLabels: meta is not JSON-serialisable: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
  });
}

/** Write a soft-label cache atomically: to `path.tmp`, flushed, then renamed over `path`. */
export function saveSoftLabels(path: string, labels: SoftLabels, meta: Record<string, unknown> = {}): void {
  writeFileAtomic(path, encodeSoftLabels(labels, meta));
}

/** Parse and verify a cache file image; `source` names it in error messages. */
export function decodeSoftLabels(
  buf: Buffer,
  source = "<buffer>",
): { labels: SoftLabels; meta: Record<string, unknown> } {
  const { header, blocks } = decodeContainer(buf, {
    magic: MAGIC,
    version: SOFT_LABEL_FORMAT_VERSION,
    what: "soft-label file",
    noun: "array",
    error: SoftLabelFileError,
    source,
    readHeader: (json) => {
      const problem = headerProblem(json);
      if (problem) throw new HeaderProblem(`malformed header: ${problem}`);
      return { header: json, blocks: json.arrays as ArrayEntry[] };
    },
  });
  const entries = header.arrays as ArrayEntry[];
  const read = (i: number): AnyArray => {
    const { dtype, byteLength } = entries[i]!;
    const out =
      dtype === "u8"
        ? new Uint8Array(byteLength)
        : dtype === "i32"
          ? new Int32Array(byteLength / 4)
          : new Float32Array(byteLength / 4);
    new Uint8Array(out.buffer).set(blocks[i]!);
    return out;
  };
  const index = new Map(entries.map((e, i) => [e.name, i]));
  const labels: SoftLabels = {
    users: read(index.get("users")!) as Int32Array,
    listLength: header.listLength as number,
    positives: header.positives as number,
    topK: header.topK as number,
    negatives: header.negatives as number,
    items: read(index.get("items")!) as Int32Array,
    teacherScores: read(index.get("teacherScores")!) as Float32Array,
    kinds: read(index.get("kinds")!) as Uint8Array,
    topKItems: read(index.get("topKItems")!) as Int32Array,
  };
  entries.forEach((e, i) => {
    if (e.name.startsWith(TASK_PREFIX))
      (labels.taskScores ??= {})[e.name.slice(TASK_PREFIX.length)] = read(i) as Float32Array;
  });
  return { labels, meta: header.meta as Record<string, unknown> };
}

/** Why a parsed header is unusable, or undefined when it is consistent (block layout is the container's). */
function headerProblem(h: Record<string, unknown>): string | undefined {
  const { rows, listLength, topK, positives, negatives, arrays, meta } = h;
  if (![rows, listLength, topK, positives, negatives].every(isCount)) {
    return "rows, listLength, topK, positives and negatives must be non-negative integers";
  }
  if ((positives as number) + (topK as number) + (negatives as number) !== listLength) {
    return `positives ${positives} + topK ${topK} + negatives ${negatives} ≠ listLength ${listLength}`;
  }
  if (!isPlainObject(meta)) return "meta is not a JSON object";
  if (!Array.isArray(arrays)) return "no arrays list";
  const names = new Set<string>();
  for (const [i, raw] of arrays.entries()) {
    if (!isPlainObject(raw)) return `array #${i} is not an object`;
    const { name, dtype, byteLength } = raw;
    if (typeof name !== "string" || name === "") return `array #${i} has no name`;
    if (names.has(name)) return `duplicate array "${name}"`;
    names.add(name);
    const want = expectedDtype(name);
    if (want === undefined) return `unknown array "${name}"`;
    if (dtype !== want) return `array "${name}" has dtype ${JSON.stringify(dtype)}, expected "${want}"`;
    const bytes = expectedLength(name, rows as number, listLength as number, topK as number)! * DTYPE_BYTES[want];
    if (byteLength !== bytes)
      return `array "${name}" has ${JSON.stringify(byteLength)} bytes, the dimensions need ${bytes}`;
  }
  for (const name of ["users", "items", "teacherScores", "kinds", "topKItems"]) {
    if (!names.has(name)) return `array "${name}" is missing`;
  }
  return undefined;
}

/** Read and verify a soft-label cache file. */
export function loadSoftLabels(path: string): { labels: SoftLabels; meta: Record<string, unknown> } {
  return decodeSoftLabels(readFileSync(path), path);
}

// ---- cache reuse ---------------------------------------------------------------------------------

/** JSON with object keys sorted at every level, so equal metadata always serialises identically. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * A stable hash (SHA-256 hex) of soft-label metadata: key order does not matter, every value does. Put
 * whatever must match for a cache to be valid in the metadata: the teacher (e.g. `modelFingerprint`),
 * the dataset fingerprint, the seed and the generation options (P, K, N, users).
 */
export function softLabelsFingerprint(meta: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(meta)).digest("hex");
}

/** A SHA-256 hex digest of a model's parameter names, shapes and values: changes whenever the teacher does. */
export function modelFingerprint(model: Module): string {
  const hash = createHash("sha256");
  for (const [name, t] of model.namedParameters()) {
    hash.update(`${name}[${t.shape.join(",")}]`);
    const data = t.data;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest("hex");
}

/** What `loadOrGenerate` did: reused the cache, or generated (and why). */
export interface CachedSoftLabels {
  labels: SoftLabels;
  meta: Record<string, unknown>;
  cached: boolean;
  /** Why the labels were generated: "missing", "stale" (metadata differs) or the load error. */
  reason?: string;
}

/**
 * Reuse the cache at `path` when its metadata has `expectedMeta`'s fingerprint; otherwise (missing,
 * stale, unreadable or corrupted) call `generate`, save the result with `expectedMeta` and return it.
 */
export function loadOrGenerate(
  path: string,
  expectedMeta: Record<string, unknown>,
  generate: () => SoftLabels,
): CachedSoftLabels {
  let reason = "missing";
  if (existsSync(path)) {
    try {
      const { labels, meta } = loadSoftLabels(path);
      if (softLabelsFingerprint(meta) === softLabelsFingerprint(expectedMeta)) {
        return { labels, meta, cached: true };
      }
      reason = "stale";
    } catch (err) {
      if (!(err instanceof SoftLabelFileError)) throw err;
      reason = err.message;
    }
  }
  const labels = generate();
  saveSoftLabels(path, labels, expectedMeta);
  return { labels, meta: expectedMeta, cached: false, reason };
}
