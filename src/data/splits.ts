// Train / validation / test splits of an interaction log: random, temporal, leave-one-out and cold-start.
import { DataRng } from "./rng.js";
import { groupRowsByUser, indexBounds, maskToRows, select } from "./shaping.js";
import type { Interactions } from "./types.js";

/** A split of a log; `valid` is absent when no validation part was asked for. */
export interface Split {
  train: Interactions;
  valid?: Interactions;
  test: Interactions;
}

/** A cold-start split, with the users or items held out of train (ascending dense indices). */
export interface ColdStartSplit extends Split {
  kind: "user" | "item";
  /** Held-out ids whose rows form `test`. */
  testIds: Int32Array;
  /** Held-out ids whose rows form `valid` (empty when no validation part was asked for). */
  validIds: Int32Array;
}

/** Ratios `[train, test]` or `[train, valid, test]`; they are normalised by their sum. */
export type SplitRatios = readonly [number, number] | readonly [number, number, number];

const TRAIN = 0;
const VALID = 1;
const TEST = 2;

/** Shuffles all rows (seeded) and cuts them by `ratios`. */
export function randomSplit(interactions: Interactions, options: { ratios: SplitRatios; seed: number }): Split {
  const [trainShare, validShare] = normaliseRatios(options.ratios);
  const n = interactions.length;
  const order = new DataRng(options.seed).shuffle(Int32Array.from({ length: n }, (_, r) => r));
  const trainEnd = Math.round(n * trainShare);
  const validEnd = Math.round(n * (trainShare + validShare));
  const part = new Uint8Array(n);
  for (let k = 0; k < n; k++) part[order[k]!] = k < trainEnd ? TRAIN : k < validEnd ? VALID : TEST;
  return splitByPart(interactions, part, options.ratios.length === 3);
}

/**
 * Cuts the log at global times so that every train row is strictly earlier than every valid row, itself
 * strictly earlier than every test row. Rows sharing a timestamp stay together, so parts are only close to
 * the requested ratios.
 */
export function temporalSplit(interactions: Interactions, options: { ratios: SplitRatios }): Split {
  const [trainShare, validShare] = normaliseRatios(options.ratios);
  const n = interactions.length;
  const sorted = interactions.timestamps.slice().sort();
  const cutAt = (share: number) => {
    const position = Math.round(n * share);
    return position >= n ? Infinity : sorted[position]!;
  };
  const validStart = cutAt(trainShare);
  const testStart = Math.max(validStart, cutAt(trainShare + validShare));
  const part = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const t = interactions.timestamps[r]!;
    part[r] = t < validStart ? TRAIN : t < testStart ? VALID : TEST;
  }
  return splitByPart(interactions, part, options.ratios.length === 3);
}

/**
 * Leave-one-out per user, as the PyTorch reference does: a user's rows are ordered by (timestamp, item),
 * only the first occurrence of each item is kept, the last item goes to test, the second-to-last to valid and
 * the rest to train. Users with fewer than 3 distinct items stay entirely in train. Repeated (user, item) rows
 * are dropped; run `deduplicate` first to aggregate them instead.
 */
export function leaveOneOut(interactions: Interactions): Required<Split> {
  const { items, timestamps } = interactions;
  const { numUsers, numItems } = indexBounds(interactions);
  const { offsets, rows } = groupRowsByUser(interactions, numUsers);
  const part = new Uint8Array(interactions.length).fill(255);
  // Stamp per item: the last user who saw it, to find first occurrences without a per-user Set.
  const seenBy = new Int32Array(numItems).fill(-1);
  const firstRows: number[] = [];
  for (let u = 0; u < numUsers; u++) {
    const segment = rows.subarray(offsets[u]!, offsets[u + 1]!);
    segment.sort((a, b) => timestamps[a]! - timestamps[b]! || items[a]! - items[b]! || a - b);
    firstRows.length = 0;
    for (const r of segment) {
      if (seenBy[items[r]!] === u) continue;
      seenBy[items[r]!] = u;
      firstRows.push(r);
    }
    for (const r of firstRows) part[r] = TRAIN;
    if (firstRows.length >= 3) {
      part[firstRows[firstRows.length - 2]!] = VALID;
      part[firstRows[firstRows.length - 1]!] = TEST;
    }
  }
  return splitByPart(interactions, part, true) as Required<Split>;
}

/** Options of {@link coldStartSplit}. */
export interface ColdStartOptions {
  kind: "user" | "item";
  /** Share of the present users / items held out for test. */
  fraction: number;
  /** Share held out for validation (default 0: no validation part). */
  validFraction?: number;
  seed: number;
}

/** Holds out a random share of users (or items): all their rows go to test (or valid), none to train. */
export function coldStartSplit(interactions: Interactions, options: ColdStartOptions): ColdStartSplit {
  const validFraction = options.validFraction ?? 0;
  if (!(options.fraction > 0 && validFraction >= 0 && options.fraction + validFraction < 1)) {
    throw new RangeError(`coldStartSplit: need fraction > 0, validFraction ≥ 0 and their sum < 1`);
  }
  const ids = options.kind === "user" ? interactions.users : interactions.items;
  const bounds = indexBounds(interactions);
  const size = options.kind === "user" ? bounds.numUsers : bounds.numItems;
  const present = new Uint8Array(size);
  for (const id of ids) present[id] = 1;
  const candidates = new DataRng(options.seed).shuffle(maskToRows(present));
  const testCount = Math.round(candidates.length * options.fraction);
  const validCount = Math.round(candidates.length * validFraction);
  const testIds = candidates.slice(0, testCount).sort();
  const validIds = candidates.slice(testCount, testCount + validCount).sort();
  const partOfId = new Uint8Array(size).fill(TRAIN);
  for (const id of testIds) partOfId[id] = TEST;
  for (const id of validIds) partOfId[id] = VALID;
  const part = Uint8Array.from(ids, (id) => partOfId[id]!);
  return { ...splitByPart(interactions, part, validFraction > 0), kind: options.kind, testIds, validIds };
}

/** The train / valid / test shares of `ratios`, normalised to sum to 1. */
function normaliseRatios(ratios: SplitRatios): [number, number, number] {
  const [train, valid, test] = ratios.length === 3 ? ratios : [ratios[0], 0, ratios[1]];
  const total = train + valid + test;
  if (!(train >= 0 && valid >= 0 && test >= 0 && total > 0)) {
    throw new RangeError(`split ratios must be non-negative with a positive sum, got [${ratios.join(", ")}]`);
  }
  return [train / total, valid / total, test / total];
}

/** Splits rows by their part code (TRAIN / VALID / TEST; anything else is dropped), keeping row order. */
function splitByPart(interactions: Interactions, part: Uint8Array, withValid: boolean): Split {
  const rowsOf = (code: number) => {
    let count = 0;
    for (let r = 0; r < part.length; r++) if (part[r] === code) count++;
    const rows = new Int32Array(count);
    for (let r = 0, k = 0; r < part.length; r++) if (part[r] === code) rows[k++] = r;
    return rows;
  };
  const split: Split = { train: select(interactions, rowsOf(TRAIN)), test: select(interactions, rowsOf(TEST)) };
  if (withValid) split.valid = select(interactions, rowsOf(VALID));
  return split;
}
