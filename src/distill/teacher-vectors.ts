/**
 * A frozen dot-product teacher's user and item vectors, each computed once and kept. The experts and
 * topology terms ask for the vectors of every batch's users and items, epoch after epoch, and a sequence
 * teacher's user vector is a transformer pass over the user's history: kept, a run pays for each vector once.
 * The teacher is frozen and reads each user's training history, so a kept vector is a fresh one (up to float
 * rounding: a sequence teacher's batch, its padding, orders its sums).
 */
import { Ids } from "../engine/ops/embedding.js";
import { noGrad } from "../engine/tensor.js";
import type { DotProductModel } from "../models/dot-product.js";

/** Tables above this many floats (256 MiB) are not kept: their vectors are computed at every call. */
const KEEP_LIMIT = 1 << 26;

/** One side's vectors (users or items), kept in a [rows, dim] table as they are first asked for. */
class KeptVectors {
  private table: Float32Array | null = null;
  private known: Uint8Array | null = null;

  constructor(
    private readonly side: string,
    private readonly rows: number,
    private readonly dim: number,
    private readonly compute: (ids: Int32Array) => Float32Array,
  ) {}

  /** The vectors of `ids` (each in [0, rows)), row after row: [ids.length × dim]. */
  of(ids: Int32Array): Float32Array {
    const { rows, dim } = this;
    for (const id of ids) {
      if (!(id >= 0 && id < rows)) {
        throw new RangeError(`TeacherVectors: ${this.side} ${id} is outside the teacher's ${rows} ${this.side}s`);
      }
    }
    if (rows * dim > KEEP_LIMIT) return this.compute(ids);
    const table = (this.table ??= new Float32Array(rows * dim));
    const known = (this.known ??= new Uint8Array(rows));
    const missing = Int32Array.from(new Set(ids.filter((id) => known[id] === 0)));
    if (missing.length > 0) {
      const computed = this.compute(missing);
      missing.forEach((id, k) => {
        table.set(computed.subarray(k * dim, (k + 1) * dim), id * dim);
        known[id] = 1;
      });
    }
    const out = new Float32Array(ids.length * dim);
    ids.forEach((id, k) => out.set(table.subarray(id * dim, (id + 1) * dim), k * dim));
    return out;
  }
}

/** The user and item vectors of a frozen teacher over `numUsers` users and `numItems` items. */
export class TeacherVectors {
  private readonly userSide: KeptVectors;
  private readonly itemSide: KeptVectors;

  constructor(
    readonly teacher: DotProductModel,
    numUsers: number,
    numItems: number,
  ) {
    const values = (vectors: () => { data: Float32Array }) => noGrad(() => Float32Array.from(vectors().data));
    this.userSide = new KeptVectors("user", numUsers, teacher.dim, (ids) =>
      values(() => teacher.userVectors(new Ids(ids))),
    );
    this.itemSide = new KeptVectors("item", numItems, teacher.dim, (ids) =>
      values(() => teacher.itemVectors(new Ids(ids))),
    );
  }

  /** The teacher's vectors of `users`: [users.length × dim]. */
  users(users: Int32Array): Float32Array {
    return this.userSide.of(users);
  }

  /** The teacher's vectors of `items`: [items.length × dim]. */
  items(items: Int32Array): Float32Array {
    return this.itemSide.of(items);
  }
}
