/**
 * Trainable compressed embeddings for id vocabularies too large for one [n, dim] table.
 *
 * QREmbedding is the quotient-remainder trick of Shi et al., "Compositional Embeddings Using
 * Complementary Partitions for Memory-Efficient Recommendation Systems" (KDD 2020): id → combine(Q[id / m],
 * R[id % m]). The quotient and remainder partitions are complementary, so distinct ids always get a
 * distinct pair of rows, at (ceil(n / m) + m) · dim parameters instead of n · dim.
 *
 * HashedEmbedding is the plain hashing trick: id → T[hash(id) % buckets]; colliding ids share a vector.
 *
 * Both tables have sparse row gradients by default, so lazy Adam only touches the rows a batch used.
 */
import * as ops from "./ops/index.js";
import { Ids } from "./ops/embedding.js";
import { Embedding, Module, type EmbeddingOptions } from "./nn.js";
import type { Tensor } from "./tensor.js";

/** How the quotient and remainder rows are combined: elementwise product (the paper's best) or sum. */
export type QRCombine = "mul" | "add";

export interface QREmbeddingOptions extends EmbeddingOptions {
  /** Rows of the remainder table, m (default ceil(√n), which minimises ceil(n / m) + m). */
  remainderRows?: number;
  /** Default "mul". */
  combine?: QRCombine;
}

function checkPositiveInt(owner: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0 || v > 0x7fffffff) {
    throw new RangeError(`${owner}: ${name} must be a positive int32, got ${v}`);
  }
}

function idValues(ids: Int32Array | Ids): Int32Array {
  return ids instanceof Ids ? ids.values : ids;
}

/** A quotient-remainder compositional embedding of `rows` ids into `dim` dimensions. */
export class QREmbedding extends Module {
  readonly quotient: Embedding;
  readonly remainder: Embedding;
  /** m: id / m picks the quotient row, id % m the remainder row. */
  readonly remainderRows: number;
  readonly combine: QRCombine;

  constructor(
    readonly rows: number,
    readonly dim: number,
    opts: QREmbeddingOptions,
  ) {
    super();
    checkPositiveInt("QREmbedding", "rows", rows);
    checkPositiveInt("QREmbedding", "dim", dim);
    this.remainderRows = opts.remainderRows ?? Math.ceil(Math.sqrt(rows));
    checkPositiveInt("QREmbedding", "remainderRows", this.remainderRows);
    this.combine = opts.combine ?? "mul";
    if (this.combine !== "mul" && this.combine !== "add") {
      throw new RangeError(`QREmbedding: combine must be "mul" or "add", got ${String(this.combine)}`);
    }
    // Scale each table so the composed vector starts with the requested std: a product of two
    // independent N(0, s²) has std s², a sum has std s·√2.
    const std = opts.std ?? 0.1;
    const tableStd = this.combine === "mul" ? Math.sqrt(std) : std / Math.SQRT2;
    const tableOpts: EmbeddingOptions = { rng: opts.rng, std: tableStd, sparse: opts.sparse ?? true };
    this.quotient = this.child("quotient", new Embedding(Math.ceil(rows / this.remainderRows), dim, tableOpts));
    this.remainder = this.child("remainder", new Embedding(this.remainderRows, dim, tableOpts));
  }

  /** The quotient and remainder rows of each id; refuses ids outside [0, rows). */
  split(ids: Int32Array): { quotient: Int32Array; remainder: Int32Array } {
    const m = this.remainderRows;
    const quotient = new Int32Array(ids.length);
    const remainder = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (v < 0 || v >= this.rows) {
        throw new RangeError(`QREmbedding: id ${v} at position ${i} is outside the vocabulary [0, ${this.rows})`);
      }
      quotient[i] = Math.floor(v / m);
      remainder[i] = v % m;
    }
    return { quotient, remainder };
  }

  /** Vectors for `ids`: [ids.length, dim], like Embedding.forward. */
  forward(ids: Int32Array | Ids): Tensor {
    const { quotient, remainder } = this.split(idValues(ids));
    const q = this.quotient.forward(quotient);
    const r = this.remainder.forward(remainder);
    return this.combine === "mul" ? ops.mul(q, r) : ops.add(q, r);
  }
}

export interface HashedEmbeddingOptions extends EmbeddingOptions {
  /** Seed of the id hash; a model must be served with the seed it was trained with. Default 0. */
  seed?: number;
}

/**
 * A fixed, seeded 32-bit integer hash (multiply-xorshift, the "lowbias32" finaliser): cheap, and every
 * input bit affects every output bit, so consecutive ids spread over the buckets.
 */
export function hashId(id: number, seed = 0): number {
  let x = (id ^ Math.imul(seed, 0x9e3779b9)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The hashing trick: any non-negative int32 id → one of `buckets` rows of a [buckets, dim] table. */
export class HashedEmbedding extends Module {
  readonly table: Embedding;
  readonly seed: number;

  constructor(
    readonly buckets: number,
    readonly dim: number,
    opts: HashedEmbeddingOptions,
  ) {
    super();
    checkPositiveInt("HashedEmbedding", "buckets", buckets);
    checkPositiveInt("HashedEmbedding", "dim", dim);
    this.seed = opts.seed ?? 0;
    if (!Number.isInteger(this.seed))
      throw new RangeError(`HashedEmbedding: seed must be an integer, got ${this.seed}`);
    this.table = this.child("table", new Embedding(buckets, dim, opts));
  }

  /** The table row of each id; refuses negative ids. */
  bucketsOf(ids: Int32Array): Int32Array {
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (v < 0) throw new RangeError(`HashedEmbedding: id ${v} at position ${i} is negative`);
      out[i] = hashId(v, this.seed) % this.buckets;
    }
    return out;
  }

  /** Vectors for `ids`: [ids.length, dim], like Embedding.forward. */
  forward(ids: Int32Array | Ids): Tensor {
    return this.table.forward(this.bucketsOf(idValues(ids)));
  }
}

/**
 * How a model embeds an id vocabulary (a plain JSON setting of model configs): one row per id (a full
 * Embedding, the default), quotient-remainder rows, or hashed buckets.
 */
export type IdTableSpec =
  | { kind: "full" }
  | { kind: "qr"; remainderRows?: number; combine?: QRCombine }
  | { kind: "hashed"; buckets: number; seed?: number };

/** The module idTable builds for each kind of spec. */
interface IdTableModules {
  full: Embedding;
  qr: QREmbedding;
  hashed: HashedEmbedding;
}

/** The module idTable builds for specs of type S. */
export type IdTableOf<S extends IdTableSpec> = IdTableModules[S["kind"]];

/** Any module idTable builds. */
export type IdTable = IdTableOf<IdTableSpec>;

/** The id table of `rows` ids that `spec` describes; a full [rows, dim] Embedding without a spec. */
export function idTable<S extends IdTableSpec>(
  spec: S | undefined,
  rows: number,
  dim: number,
  opts: EmbeddingOptions,
): IdTableOf<S> {
  const s: IdTableSpec = spec ?? { kind: "full" };
  switch (s.kind) {
    case "full":
      return new Embedding(rows, dim, opts) as IdTableOf<S>;
    case "qr":
      return new QREmbedding(rows, dim, {
        ...opts,
        remainderRows: s.remainderRows,
        combine: s.combine,
      }) as IdTableOf<S>;
    case "hashed":
      return new HashedEmbedding(s.buckets, dim, { ...opts, seed: s.seed }) as IdTableOf<S>;
    default:
      throw new RangeError(
        `id table kind must be "full", "qr" or "hashed", got "${String((s as { kind: unknown }).kind)}"`,
      );
  }
}
