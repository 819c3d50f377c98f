/**
 * FeatureEncoder: the side features of one entity type (users or items) as model fields — each
 * categorical column through its own embedding table, each multi-valued column as the mean of its tokens'
 * embeddings, all numeric columns through one linear projection. Every model with side features uses it.
 */
import { Embedding, EmbeddingBag, Linear, Module } from "../engine/nn.js";
import type { Rng } from "../engine/random.js";
import { Tensor } from "../engine/tensor.js";
import type { FeatureSchema } from "../data/features.js";
import type { FeatureInputs } from "./context.js";

export class FeatureEncoder extends Module {
  readonly categorical: Embedding[] = [];
  readonly multi: EmbeddingBag[] = [];
  readonly numeric: Linear | null;

  constructor(
    readonly features: FeatureInputs,
    readonly dim: number,
    opts: { rng: Rng; std: number },
  ) {
    super();
    for (const c of features.categorical) {
      checkVocab(c.name, c.vocabSize, c.ids);
      this.categorical.push(this.child(`cat_${moduleName(c.name)}`, new Embedding(c.vocabSize, dim, opts)));
    }
    for (const m of features.multi) {
      checkVocab(m.name, m.vocabSize, m.ids);
      this.multi.push(
        this.child(`multi_${moduleName(m.name)}`, new EmbeddingBag(m.vocabSize, dim, { ...opts, mode: "mean" })),
      );
    }
    const numeric = features.numeric.length;
    // No bias: every model adds its own after combining the fields.
    this.numeric = numeric > 0 ? this.child("numeric", new Linear(numeric, dim, { rng: opts.rng, bias: false })) : null;
  }

  /** How many [n, dim] fields forward() returns. */
  get fieldCount(): number {
    return this.categorical.length + this.multi.length + (this.numeric ? 1 : 0);
  }

  /** Multiply-adds per row (the numeric projection; lookups and bag means are not counted). */
  macs(): number {
    return this.numeric ? this.numeric.inFeatures * this.dim : 0;
  }

  /**
   * One [rows.length, dim] tensor per field, for the entity indices `rows`. Rows past the end of the
   * tables (the unknown user, a new item) read as missing: token 0 (the reserved unknown token) and 0.0.
   */
  forward(rows: Int32Array, features: FeatureInputs = this.features): Tensor[] {
    const n = rows.length;
    const out: Tensor[] = [];
    features.categorical.forEach((c, k) => {
      const ids = Int32Array.from(rows, (r) => (r < c.ids.length ? c.ids[r]! : 0));
      out.push(this.categorical[k]!.forward(ids));
    });
    features.multi.forEach((m, k) => {
      const known = m.offsets.length - 1;
      let total = 0;
      for (const r of rows) total += r < known ? m.offsets[r + 1]! - m.offsets[r]! : 1;
      const ids = new Int32Array(total); // unknown rows: the single token 0
      const offsets = new Int32Array(n);
      let at = 0;
      rows.forEach((r, b) => {
        offsets[b] = at;
        if (r < known) {
          ids.set(m.ids.subarray(m.offsets[r]!, m.offsets[r + 1]!), at);
          at += m.offsets[r + 1]! - m.offsets[r]!;
        } else at += 1;
      });
      out.push(this.multi[k]!.forward(ids, offsets));
    });
    if (this.numeric) {
      const columns = features.numeric;
      const values = new Float32Array(n * columns.length);
      rows.forEach((r, b) => {
        columns.forEach((col, j) => {
          const v = r < col.values.length ? col.values[r]! : 0;
          values[b * columns.length + j] = Number.isFinite(v) ? v : 0;
        });
      });
      out.push(this.numeric.forward(Tensor.from(values, [n, columns.length])));
    }
    return out;
  }
}

/** A feature name as a module name (parameter paths are dotted, so no dots). */
function moduleName(name: string): string {
  return name.replace(/\./g, "_");
}

function checkVocab(name: string, vocabSize: number, ids: Int32Array): void {
  for (const id of ids) {
    if (id < 0 || id >= vocabSize) {
      throw new RangeError(`feature "${name}" has id ${id} outside its vocabulary of ${vocabSize}`);
    }
  }
}

/** A raw feature value the model's schema cannot encode (the wrong kind, or a column it does not know). */
export class FeatureValueError extends Error {}

/** Raw feature values of one new row: a token, a token list, or a number per column (missing columns: unknown). */
export type RawFeatures = Readonly<Record<string, string | readonly string[] | number | null>>;

/**
 * Encode raw feature rows the way the data layer encoded the training rows, as model inputs laid out like
 * `like` (same columns, same order): tokens through the schema's vocabularies (unknown tokens → 0, [UNK]),
 * numbers z-scored with the training mean and std (missing → 0). Refuses a value of the wrong kind.
 */
export function encodeFeatureRows(
  schema: FeatureSchema,
  like: FeatureInputs,
  rows: readonly RawFeatures[],
): FeatureInputs {
  const vocab = (names: Record<string, string[]>, name: string): Map<string, number> => {
    const tokens = names[name];
    if (!tokens) throw new FeatureValueError(`feature "${name}" is not in the model's feature schema`);
    return new Map(tokens.map((t, i) => [t, i]));
  };
  const categorical = like.categorical.map((c) => {
    const ids = vocab(schema.categorical, c.name);
    return {
      name: c.name,
      vocabSize: c.vocabSize,
      ids: Int32Array.from(rows, (row) => {
        const v = row[c.name];
        if (v === undefined || v === null) return 0;
        if (typeof v !== "string") throw new FeatureValueError(`feature "${c.name}" takes one token (a string)`);
        return ids.get(v) ?? 0;
      }),
    };
  });
  const multi = like.multi.map((m) => {
    const ids = vocab(schema.multi, m.name);
    const lists = rows.map((row) => {
      const v = row[m.name];
      if (v === undefined || v === null) return [0];
      if (!Array.isArray(v) || !v.every((t) => typeof t === "string")) {
        throw new FeatureValueError(`feature "${m.name}" takes a list of tokens (strings)`);
      }
      // Like the training rows, an empty list is the single unknown token.
      return v.length ? v.map((t: string) => ids.get(t) ?? 0) : [0];
    });
    const offsets = new Int32Array(rows.length + 1);
    lists.forEach((l, r) => (offsets[r + 1] = offsets[r]! + l.length));
    return { name: m.name, vocabSize: m.vocabSize, offsets, ids: Int32Array.from(lists.flat()) };
  });
  const numeric = like.numeric.map((n) => {
    const stats = schema.numeric[n.name];
    if (!stats) throw new FeatureValueError(`feature "${n.name}" is not in the model's feature schema`);
    const scale = stats.std > 0 ? 1 / stats.std : 0;
    return {
      name: n.name,
      values: Float32Array.from(rows, (row) => {
        const v = row[n.name];
        if (v === undefined || v === null) return 0;
        if (typeof v !== "number" || !Number.isFinite(v)) {
          throw new FeatureValueError(`feature "${n.name}" takes a number`);
        }
        return (v - stats.mean) * scale;
      }),
    };
  });
  return { categorical, multi, numeric };
}
