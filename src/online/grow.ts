// Growing a trained model's id tables and context to make room for ids it never saw (online learning).
import type { Tensor } from "../engine/tensor.js";
import type { FeatureInputs, ModelContext } from "../models/context.js";
import type { Recommender } from "../models/recommender.js";

/** The parameters whose rows are user ids and item ids (zoo models register their id tables as these). */
export const USER_TABLES = new Set(["user.weight"]);
export const ITEM_TABLES = new Set(["item.weight", "history.weight"]);

/**
 * The context with room for `numUsers` and `numItems`: rows past the old ones have no side features (every
 * field unknown) and no training history.
 */
export function growContext(context: ModelContext, numUsers: number, numItems: number): ModelContext {
  const grown: ModelContext = { numUsers, numItems };
  if (context.userFeatures) grown.userFeatures = growFeatures(context.userFeatures, context.numUsers, numUsers);
  if (context.itemFeatures) grown.itemFeatures = growFeatures(context.itemFeatures, context.numItems, numItems);
  if (context.histories) {
    const { offsets, items } = context.histories;
    const grownOffsets = new Int32Array(numUsers + 1);
    grownOffsets.set(offsets.subarray(0, Math.min(offsets.length, numUsers + 1)));
    grownOffsets.fill(offsets[Math.min(offsets.length - 1, numUsers)]!, offsets.length);
    grown.histories = { offsets: grownOffsets, items: items.subarray(0, grownOffsets[numUsers]) };
  }
  return grown;
}

function growFeatures(features: FeatureInputs, from: number, to: number): FeatureInputs {
  const grow = <T extends Int32Array | Float32Array>(values: T, rows: number): T => {
    const out = new (values.constructor as new (n: number) => T)(rows);
    out.set(values.subarray(0, Math.min(values.length, rows)));
    return out;
  };
  return {
    categorical: features.categorical.map((c) => ({ ...c, ids: grow(c.ids, to) })),
    // A missing list is the single token 0 (data/types.ts), so each new row holds one id, 0.
    multi: features.multi.map((m) => {
      const kept = Math.min(from, to);
      const offsets = new Int32Array(to + 1);
      offsets.set(m.offsets.subarray(0, kept + 1));
      for (let r = kept; r < to; r++) offsets[r + 1] = offsets[r]! + 1;
      const ids = new Int32Array(offsets[to]!);
      ids.set(m.ids.subarray(0, offsets[kept]));
      return { ...m, offsets, ids };
    }),
    numeric: features.numeric.map((n) => ({ ...n, values: grow(n.values, to) })),
  };
}

/**
 * Copy `source`'s parameters into `target`, built from the same spec over a grown context. With `base`
 * (growing a trained model), the id tables' base rows are copied, the trained unknown-user row moves to
 * the target's last user row and every new row starts as that unknown user (users) or zero (items); without
 * it the two models have the same shapes.
 */
export function copyGrown(
  source: Recommender,
  target: Recommender,
  base: { users: number; items: number } | undefined,
  coldItemRow: number,
): void {
  const into = new Map(target.namedParameters());
  for (const [name, param] of source.namedParameters()) {
    const out = into.get(name);
    if (!out) throw new Error(`online: the grown model has no parameter ${name}`);
    const sameShape = out.shape.length === param.shape.length && out.shape.every((d, k) => d === param.shape[k]);
    if (sameShape) {
      out.data.set(param.data);
    } else if (base && USER_TABLES.has(name)) {
      const dim = param.shape[1]!;
      out.data.set(param.data.subarray(0, base.users * dim));
      const unknown = param.data.subarray(base.users * dim, (base.users + 1) * dim);
      for (let row = base.users; row < out.shape[0]!; row++) out.data.set(unknown, row * dim);
    } else if (base && ITEM_TABLES.has(name)) {
      out.data.fill(0);
      out.data.set(param.data.subarray(0, base.items * param.shape[1]!));
    } else {
      throw new Error(`online: cannot grow parameter ${name} from [${param.shape}] to [${out.shape}]`);
    }
    if (ITEM_TABLES.has(name) && out.shape[0]! > coldItemRow) {
      const dim = out.shape[1]!;
      out.data.fill(0, coldItemRow * dim, (coldItemRow + 1) * dim);
    }
  }
}

export function gatherRows(from: Tensor, to: Tensor, rows: readonly number[]): void {
  const dim = from.shape[1]!;
  rows.forEach((row, k) => to.data.set(from.data.subarray(row * dim, (row + 1) * dim), k * dim));
}
