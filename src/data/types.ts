// The in-memory shapes every part of distillrec exchanges: interaction logs, id maps, side features.
import type { IdMap } from "./idmap.js";

/** Event types of an implicit-feedback funnel; index = code stored in `Interactions.eventTypes`. */
export const EVENT_TYPES = ["view", "click", "cart", "purchase", "rating"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** A columnar interaction log: row r is (users[r], items[r], values[r], timestamps[r], eventTypes[r]). */
export interface Interactions {
  readonly length: number;
  /** Dense user index (see Dataset.users). */
  readonly users: Int32Array;
  /** Dense item index (see Dataset.items). */
  readonly items: Int32Array;
  /** Rating or event weight; 1 for plain implicit feedback. */
  readonly values: Float32Array;
  /** Seconds since the epoch (or row order when the source has none). */
  readonly timestamps: Float64Array;
  /** Index into EVENT_TYPES. */
  readonly eventTypes: Uint8Array;
}

/** Side features of users or items, one row per dense index. */
export interface FeatureTable {
  /** Single-valued categorical columns: token ids (0 = unknown/missing), one per row. */
  readonly categorical: Record<string, { vocab: IdMap; ids: Int32Array }>;
  /**
   * Multi-valued token lists (genres, tags): CSR layout, row r = ids[offsets[r] .. offsets[r+1]).
   * A missing or empty list is the single token 0, so every row has at least one id to pool.
   */
  readonly multi: Record<string, { vocab: IdMap; offsets: Int32Array; ids: Int32Array }>;
  /** Numeric columns, normalised (z-score); missing values are 0 with `missing[r] = 1`. */
  readonly numeric: Record<string, { values: Float32Array; missing: Uint8Array; mean: number; std: number }>;
}

/** Everything learned from: the interaction log, the id maps, and optional side features. */
export interface Dataset {
  readonly name: string;
  readonly interactions: Interactions;
  readonly users: IdMap;
  readonly items: IdMap;
  readonly userFeatures?: FeatureTable;
  readonly itemFeatures?: FeatureTable;
}
