/**
 * BPR matrix factorisation (Rendle et al. 2009): s(u, i) = ⟨p_u, q_i⟩. Teacher at large dim, student at small.
 * A dot-product model whose vectors are its id rows: it reads no history and has no cold items.
 */
import { QREmbedding, idTable, type IdTable, type IdTableOf, type IdTableSpec } from "../engine/tables.js";
import { Embedding } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import type { Ids } from "../engine/ops/embedding.js";
import { scoreAllRows, scoreTableLists, scoreTableRows } from "../engine/scoring.js";
import { endStep, noGrad, type Tensor } from "../engine/tensor.js";
import type { ModelContext } from "./context.js";
import { initOptions, Recommender, type Pairs, type Scorer, type UserQuery } from "./recommender.js";
import { itemVectorTableOf, userVectorOf, type DotProductModel, type RetrievalPrecision } from "./dot-product.js";

export interface BPRMFConfig<U extends IdTableSpec = IdTableSpec, I extends IdTableSpec = IdTableSpec> {
  dim: number;
  /** How user ids are embedded (default a full table; "qr" or "hashed" for very many users). */
  userTable?: U;
  /** How item ids are embedded (default a full table). */
  itemTable?: I;
  /** Standard deviation of the initial embeddings. */
  initStd?: number;
  seed?: number;
}

type FullTable = Extract<IdTableSpec, { kind: "full" }>;

/** Typed by its table specs, so a BPR-MF with full tables (the default) exposes its factor matrices as Embeddings. */
export class BPRMF<U extends IdTableSpec = FullTable, I extends IdTableSpec = FullTable>
  extends Recommender
  implements DotProductModel
{
  readonly kind = "bpr-mf";
  readonly dotProduct = true;
  readonly retrieval: RetrievalPrecision = "f32";
  readonly retrievalPrecisions: readonly RetrievalPrecision[] = ["f32"];
  readonly userEmbedding: IdTableOf<U>;
  readonly itemEmbedding: IdTableOf<I>;

  constructor(
    readonly config: BPRMFConfig<U, I>,
    context: ModelContext,
  ) {
    super(context);
    const opts = initOptions(config);
    this.userEmbedding = idTable(config.userTable, context.numUsers + 1, config.dim, opts);
    this.itemEmbedding = idTable(config.itemTable, context.numItems, config.dim, opts);
    // Registered as plain id tables: child() cannot check a table type that depends on the spec type.
    this.child<IdTable>("user", this.userEmbedding);
    this.child<IdTable>("item", this.itemEmbedding);
  }

  get dim(): number {
    return this.config.dim;
  }

  forward(pairs: Pairs): Tensor {
    return ops.rowDot(this.userVectors(pairs.users), this.itemVectors(pairs.items));
  }

  userVectors(users: Ids): Tensor {
    return this.userEmbedding.forward(users);
  }

  userVector(query: UserQuery): Float32Array {
    return userVectorOf(this, query);
  }

  itemVectors(items: Ids): Tensor {
    return this.itemEmbedding.forward(items);
  }

  itemVectorTable(chunk?: number): Float32Array {
    return itemVectorTableOf(this, chunk);
  }

  /** The dot product, plus composing the item's vector from its quotient and remainder rows for a QR item table. */
  flopsPerItem(): number {
    return (this.itemEmbedding instanceof QREmbedding ? 3 : 2) * this.config.dim;
  }

  override scorer(): Scorer {
    // A compositional item table has no stored item vectors to scan: its items are scored through forward().
    if (!(this.itemEmbedding instanceof Embedding)) return super.scorer();
    return new DotScorer(this.userEmbedding, this.itemEmbedding.weight);
  }
}

/**
 * Scores a user against item rows with one SIMD scan (models whose score is a plain dot product): the
 * user's vector comes from its id table, the items' from a [numItems, dim] tensor.
 */
export class DotScorer implements Scorer {
  constructor(
    private readonly users: IdTable,
    private readonly items: Tensor,
  ) {}

  scoreAll(query: UserQuery): Float32Array {
    return noGrad(() => {
      const scores = scoreAllRows(this.items, this.users.forward(new Int32Array([query.user])));
      endStep();
      return scores;
    });
  }

  /** Only the candidates' rows are read: ranking 100 candidates costs 100 dot products, not the catalogue. */
  scoreCandidates(query: UserQuery, items: Int32Array): Float32Array {
    const rows = this.items.shape[0]!;
    for (const i of items) {
      if (!(i >= 0 && i < rows)) throw new RangeError(`DotScorer: item ${i} is outside the catalogue of ${rows}`);
    }
    return noGrad(() => {
      const scores = scoreTableRows(this.items, this.users.forward(new Int32Array([query.user])), items);
      endStep();
      return scores;
    });
  }

  /** Every query's user row looked up at once, then one gather and row-dot pass over all the lists. */
  scoreLists(queries: readonly UserQuery[], lists: readonly Int32Array[]): Float32Array[] {
    return noGrad(() => {
      const vectors = this.users.forward(Int32Array.from(queries, (q) => q.user)).data.slice();
      endStep();
      return scoreTableLists(this.items, vectors, lists);
    });
  }
}
