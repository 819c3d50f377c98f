// Reshaping interaction logs before training: implicit feedback, de-duplication, k-core filtering, id compaction.
import { IdMap } from "./idmap.js";
import { EVENT_TYPES, type Dataset, type EventType, type FeatureTable, type Interactions } from "./types.js";

/** Default weight of each event type when turning a log into implicit feedback. */
export const DEFAULT_EVENT_WEIGHTS: Readonly<Record<EventType, number>> = {
  view: 1,
  click: 2,
  cart: 3,
  purchase: 5,
  rating: 1,
};

const RATING_CODE = EVENT_TYPES.indexOf("rating");

/** Builds an Interactions object from its columns (all must have the same length). */
export function makeInteractions(columns: Omit<Interactions, "length">): Interactions {
  const { users, items, values, timestamps, eventTypes } = columns;
  const length = users.length;
  for (const [name, column] of Object.entries({ items, values, timestamps, eventTypes })) {
    if (column.length !== length) {
      throw new RangeError(`Interactions: column ${name} has ${column.length} rows, expected ${length}`);
    }
  }
  return { length, users, items, values, timestamps, eventTypes };
}

/** An empty interaction log. */
export function emptyInteractions(): Interactions {
  return makeInteractions({
    users: new Int32Array(0),
    items: new Int32Array(0),
    values: new Float32Array(0),
    timestamps: new Float64Array(0),
    eventTypes: new Uint8Array(0),
  });
}

/** A new log holding the given rows of `interactions`, in the order given. */
export function select(interactions: Interactions, rowIndices: ArrayLike<number>): Interactions {
  const n = rowIndices.length;
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  const values = new Float32Array(n);
  const timestamps = new Float64Array(n);
  const eventTypes = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const r = rowIndices[k]!;
    if (!(r >= 0 && r < interactions.length))
      throw new RangeError(`select: row ${r} outside 0..${interactions.length - 1}`);
    users[k] = interactions.users[r]!;
    items[k] = interactions.items[r]!;
    values[k] = interactions.values[r]!;
    timestamps[k] = interactions.timestamps[r]!;
    eventTypes[k] = interactions.eventTypes[r]!;
  }
  return makeInteractions({ users, items, values, timestamps, eventTypes });
}

/** The indices of the rows whose `keep` flag is non-zero, ascending. */
export function maskToRows(keep: Uint8Array): Int32Array {
  let count = 0;
  for (let r = 0; r < keep.length; r++) count += keep[r]! !== 0 ? 1 : 0;
  const rows = new Int32Array(count);
  let k = 0;
  for (let r = 0; r < keep.length; r++) if (keep[r]! !== 0) rows[k++] = r;
  return rows;
}

/** One more than the largest user index and item index in the log (0 when empty). */
export function indexBounds(interactions: Interactions): { numUsers: number; numItems: number } {
  let maxUser = -1;
  let maxItem = -1;
  for (let r = 0; r < interactions.length; r++) {
    if (interactions.users[r]! > maxUser) maxUser = interactions.users[r]!;
    if (interactions.items[r]! > maxItem) maxItem = interactions.items[r]!;
  }
  return { numUsers: maxUser + 1, numItems: maxItem + 1 };
}

/**
 * Groups row indices by user with a stable counting sort: rows of user u are
 * `rows[offsets[u] .. offsets[u+1])`, in their original order. O(rows + users).
 */
export function groupRowsByUser(
  interactions: Interactions,
  numUsers: number,
): { offsets: Int32Array; rows: Int32Array } {
  const offsets = new Int32Array(numUsers + 1);
  for (let r = 0; r < interactions.length; r++) {
    const u = interactions.users[r]!;
    if (!(u >= 0 && u < numUsers)) throw new RangeError(`user index ${u} at row ${r} outside 0..${numUsers - 1}`);
    offsets[u + 1]!++;
  }
  for (let u = 0; u < numUsers; u++) offsets[u + 1]! += offsets[u]!;
  const cursor = offsets.slice(0, numUsers);
  const rows = new Int32Array(interactions.length);
  for (let r = 0; r < interactions.length; r++) rows[cursor[interactions.users[r]!]!++] = r;
  return { offsets, rows };
}

/** Options of {@link toImplicit}. */
export interface ImplicitOptions {
  /** Rating rows below this value are dropped (other event types are always kept). */
  ratingThreshold?: number;
  /** Value given to each event type; missing types fall back to DEFAULT_EVENT_WEIGHTS. */
  eventWeights?: Partial<Record<EventType, number>>;
}

/** Turns a log into implicit feedback: drops low ratings and replaces values by event weights. */
export function toImplicit(interactions: Interactions, options: ImplicitOptions = {}): Interactions {
  const weights = EVENT_TYPES.map((type) => options.eventWeights?.[type] ?? DEFAULT_EVENT_WEIGHTS[type]);
  const threshold = options.ratingThreshold;
  const keep = new Uint8Array(interactions.length);
  for (let r = 0; r < interactions.length; r++) {
    const isLowRating =
      threshold !== undefined && interactions.eventTypes[r] === RATING_CODE && interactions.values[r]! < threshold;
    keep[r] = isLowRating ? 0 : 1;
  }
  const kept = select(interactions, maskToRows(keep));
  for (let r = 0; r < kept.length; r++) {
    const weight = weights[kept.eventTypes[r]!];
    if (weight === undefined)
      throw new RangeError(`toImplicit: unknown event type code ${kept.eventTypes[r]} at row ${r}`);
    kept.values[r] = weight;
  }
  return kept;
}

/**
 * How repeated (user, item) rows collapse into one:
 * - "first" / "last": keep the earliest / latest row (by timestamp, then row order);
 * - "max": keep the row with the largest value (earliest on ties);
 * - "sum": sum the values, with the latest timestamp and the deepest (largest) event type code.
 */
export type DedupMode = "first" | "last" | "max" | "sum";

/** Collapses repeated (user, item) pairs into one row each; surviving rows keep their original order. */
export function deduplicate(interactions: Interactions, mode: DedupMode): Interactions {
  const { users, items, values, timestamps, eventTypes } = interactions;
  const { numUsers } = indexBounds(interactions);
  const { offsets, rows } = groupRowsByUser(interactions, numUsers);
  // Within each user, order rows by (item, timestamp, row) so every pair is one contiguous run.
  for (let u = 0; u < numUsers; u++) {
    const segment = rows.subarray(offsets[u]!, offsets[u + 1]!);
    if (segment.length > 1) {
      segment.sort((a, b) => items[a]! - items[b]! || timestamps[a]! - timestamps[b]! || a - b);
    }
  }
  // In "sum" mode the first row of each run is rewritten with the aggregate, on a copy of the columns.
  const source =
    mode === "sum"
      ? select(
          interactions,
          Int32Array.from({ length: interactions.length }, (_, r) => r),
        )
      : interactions;
  const chosen = new Int32Array(rows.length);
  let chosenCount = 0;
  let start = 0;
  while (start < rows.length) {
    const first = rows[start]!;
    let end = start + 1;
    while (end < rows.length && users[rows[end]!] === users[first] && items[rows[end]!] === items[first]) end++;
    const last = rows[end - 1]!;
    if (mode === "first") chosen[chosenCount++] = first;
    else if (mode === "last") chosen[chosenCount++] = last;
    else if (mode === "max") {
      let best = first;
      for (let k = start + 1; k < end; k++) if (values[rows[k]!]! > values[best]!) best = rows[k]!;
      chosen[chosenCount++] = best;
    } else {
      let sum = 0;
      let deepestType = 0;
      for (let k = start; k < end; k++) {
        sum += values[rows[k]!]!;
        deepestType = Math.max(deepestType, eventTypes[rows[k]!]!);
      }
      source.values[first] = sum;
      source.timestamps[first] = timestamps[last]!;
      source.eventTypes[first] = deepestType;
      chosen[chosenCount++] = first;
    }
    start = end;
  }
  return select(source, chosen.subarray(0, chosenCount).sort());
}

/** Options of {@link kCore}: the minimum number of rows each kept user / item must have. */
export interface KCoreOptions {
  userMin: number;
  itemMin: number;
}

/**
 * Keeps the k-core: repeatedly drops rows of users with fewer than `userMin` rows and items with fewer than
 * `itemMin` rows until both conditions hold (counts are rows; deduplicate first to count distinct pairs).
 */
export function kCore(interactions: Interactions, options: KCoreOptions): Interactions {
  const { users, items } = interactions;
  const { numUsers, numItems } = indexBounds(interactions);
  const keep = new Uint8Array(interactions.length).fill(1);
  const userCounts = new Int32Array(numUsers);
  const itemCounts = new Int32Array(numItems);
  for (;;) {
    userCounts.fill(0);
    itemCounts.fill(0);
    for (let r = 0; r < keep.length; r++) {
      if (keep[r] === 0) continue;
      userCounts[users[r]!]!++;
      itemCounts[items[r]!]!++;
    }
    let dropped = 0;
    for (let r = 0; r < keep.length; r++) {
      if (keep[r] === 0) continue;
      if (userCounts[users[r]!]! < options.userMin || itemCounts[items[r]!]! < options.itemMin) {
        keep[r] = 0;
        dropped++;
      }
    }
    if (dropped === 0) break;
  }
  return select(interactions, maskToRows(keep));
}

/**
 * Re-indexes users and items so only those present in the log remain, numbered 0..n-1 in their previous
 * relative order; id maps and side-feature tables are rebuilt to match.
 */
export function compactIds(dataset: Dataset): Dataset {
  const source = dataset.interactions;
  const userRemap = presentIndexRemap(source.users, dataset.users.size);
  const itemRemap = presentIndexRemap(source.items, dataset.items.size);
  const users = Int32Array.from(source.users, (u) => userRemap.newIndex[u]!);
  const items = Int32Array.from(source.items, (i) => itemRemap.newIndex[i]!);
  const interactions = makeInteractions({
    users,
    items,
    values: source.values.slice(),
    timestamps: source.timestamps.slice(),
    eventTypes: source.eventTypes.slice(),
  });
  return {
    name: dataset.name,
    interactions,
    users: IdMap.fromJSON(Array.from(userRemap.kept, (u) => dataset.users.external(u))),
    items: IdMap.fromJSON(Array.from(itemRemap.kept, (i) => dataset.items.external(i))),
    ...(dataset.userFeatures && { userFeatures: selectFeatureRows(dataset.userFeatures, userRemap.kept) }),
    ...(dataset.itemFeatures && { itemFeatures: selectFeatureRows(dataset.itemFeatures, itemRemap.kept) }),
  };
}

/** The present indices (ascending) and an old → new index table (-1 for absent ones). */
function presentIndexRemap(indices: Int32Array, size: number): { kept: Int32Array; newIndex: Int32Array } {
  const present = new Uint8Array(size);
  for (const index of indices) {
    if (!(index >= 0 && index < size))
      throw new RangeError(`compactIds: index ${index} outside its id map (size ${size})`);
    present[index] = 1;
  }
  const kept = maskToRows(present);
  const newIndex = new Int32Array(size).fill(-1);
  for (let k = 0; k < kept.length; k++) newIndex[kept[k]!] = k;
  return { kept, newIndex };
}

/** The feature rows `rows` of `table`, in that order (vocabularies and normalisation are shared). */
export function selectFeatureRows(table: FeatureTable, rows: Int32Array): FeatureTable {
  const categorical: FeatureTable["categorical"] = {};
  for (const [name, column] of Object.entries(table.categorical)) {
    categorical[name] = { vocab: column.vocab, ids: Int32Array.from(rows, (r) => column.ids[r]!) };
  }
  const multi: FeatureTable["multi"] = {};
  for (const [name, column] of Object.entries(table.multi)) {
    const offsets = new Int32Array(rows.length + 1);
    for (let k = 0; k < rows.length; k++) {
      offsets[k + 1] = offsets[k]! + column.offsets[rows[k]! + 1]! - column.offsets[rows[k]!]!;
    }
    const ids = new Int32Array(offsets[rows.length]!);
    for (let k = 0; k < rows.length; k++) {
      ids.set(column.ids.subarray(column.offsets[rows[k]!]!, column.offsets[rows[k]! + 1]!), offsets[k]!);
    }
    multi[name] = { vocab: column.vocab, offsets, ids };
  }
  const numeric: FeatureTable["numeric"] = {};
  for (const [name, column] of Object.entries(table.numeric)) {
    numeric[name] = {
      values: Float32Array.from(rows, (r) => column.values[r]!),
      missing: Uint8Array.from(rows, (r) => column.missing[r]!),
      mean: column.mean,
      std: column.std,
    };
  }
  return { categorical, multi, numeric };
}
