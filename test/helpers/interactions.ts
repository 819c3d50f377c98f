// Interaction logs for evaluation tests: (user, item) pairs in time order, each a unit-valued event.
import { makeInteractions } from "../../src/data/shaping.js";
import type { Interactions } from "../../src/data/types.js";

/** The log of `pairs`, the r-th pair at time r. */
export function interactionLog(pairs: [number, number][]): Interactions {
  return makeInteractions({
    users: Int32Array.from(pairs, (p) => p[0]),
    items: Int32Array.from(pairs, (p) => p[1]),
    values: new Float32Array(pairs.length).fill(1),
    timestamps: Float64Array.from(pairs, (_, r) => r),
    eventTypes: new Uint8Array(pairs.length),
  });
}
