// Per-user chronological histories, for history-based models and real-time serving.
import { groupRowsByUser } from "./shaping.js";
import type { Interactions } from "./types.js";

/** Every user's interactions in time order, in CSR form: user u spans `[offsets[u], offsets[u+1])`. */
export class UserHistories {
  constructor(
    readonly offsets: Int32Array,
    readonly items: Int32Array,
    readonly timestamps: Float64Array,
    readonly eventTypes: Uint8Array,
    readonly values: Float32Array,
  ) {}

  get numUsers(): number {
    return this.offsets.length - 1;
  }

  /** How many interactions `user` has. */
  length(user: number): number {
    return this.offsets[user + 1]! - this.offsets[user]!;
  }

  /**
   * The last `k` items `user` interacted with strictly before `beforeTimestamp` (default: all time), oldest
   * first. The result is a view into the history, not a copy.
   */
  recent(user: number, k: number, beforeTimestamp = Infinity): Int32Array {
    const start = this.offsets[user]!;
    const end = this.endBefore(user, beforeTimestamp);
    return this.items.subarray(Math.max(start, end - k), end);
  }

  /** The index one past the user's last row with timestamp < `beforeTimestamp` (binary search). */
  endBefore(user: number, beforeTimestamp: number): number {
    let lo = this.offsets[user]!;
    let hi = this.offsets[user + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! < beforeTimestamp) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Builds the time-ordered histories of users 0..numUsers-1; rows with equal timestamps keep log order. */
export function buildUserHistories(interactions: Interactions, numUsers: number): UserHistories {
  const { offsets, rows } = groupRowsByUser(interactions, numUsers);
  const { timestamps } = interactions;
  for (let u = 0; u < numUsers; u++) {
    const segment = rows.subarray(offsets[u]!, offsets[u + 1]!);
    if (!isSortedByTime(segment, timestamps)) segment.sort((a, b) => timestamps[a]! - timestamps[b]! || a - b);
  }
  const items = new Int32Array(rows.length);
  const sortedTimestamps = new Float64Array(rows.length);
  const eventTypes = new Uint8Array(rows.length);
  const values = new Float32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    items[k] = interactions.items[r]!;
    sortedTimestamps[k] = timestamps[r]!;
    eventTypes[k] = interactions.eventTypes[r]!;
    values[k] = interactions.values[r]!;
  }
  return new UserHistories(offsets, items, sortedTimestamps, eventTypes, values);
}

// Logs usually arrive in time order; skipping the sort then keeps building O(rows).
function isSortedByTime(segment: Int32Array, timestamps: Float64Array): boolean {
  for (let k = 1; k < segment.length; k++) if (timestamps[segment[k]!]! < timestamps[segment[k - 1]!]!) return false;
  return true;
}
