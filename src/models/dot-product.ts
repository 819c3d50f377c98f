/**
 * The dot-product capability: models whose score is ⟨userVector(u), itemVector(i)⟩ (BPR-MF, two-tower).
 * Their item vectors can be computed once for the whole catalogue, so serving scans an index over them,
 * neighbours come from the same vectors, and online learning grows their id tables and trains the two
 * sides directly. Callers ask `isDotProduct(model)` instead of testing for concrete model classes.
 */
import { Int8Table, dequantizeInt8, quantizeInt8 } from "../engine/codecs/int8-table.js";
import { Ids } from "../engine/ops/embedding.js";
import { scoreAllRows, scoreTableLists, scoreTableRows } from "../engine/scoring.js";
import { Tensor, endStep, noGrad } from "../engine/tensor.js";
import type { FeatureInputs, HistoryBag } from "./context.js";
import * as ops from "../engine/ops/index.js";
import { listIndex, listShape, Recommender, type Pairs, type Scorer, type UserQuery } from "./recommender.js";

/** How item vectors are stored and scanned: float32, or int8 with one scale per item. */
export type RetrievalPrecision = "f32" | "int8";

export interface DotProductModel extends Recommender {
  readonly dotProduct: true;
  /** Width of the user and item vectors. */
  readonly dim: number;
  /** The precision the model's item vectors are scanned in. */
  readonly retrieval: RetrievalPrecision;
  /** The precisions its spec's `retrieval` field can ask for (only "f32": the spec has no such field). */
  readonly retrievalPrecisions: readonly RetrievalPrecision[];
  /**
   * User vectors [n, dim] (a graph tensor: training, online learning). `history` gives each user's recent
   * items (one bag per user, oldest first), else they come from the context's histories before
   * `historyEnd`; models that do not read history ignore both.
   */
  userVectors(users: Ids, history?: HistoryBag, historyEnd?: Int32Array): Tensor;
  /** The query's user vector [dim], computed without a graph (it ends the current scratch step). */
  userVector(query: UserQuery): Float32Array;
  /** Item vectors [n, dim] (a graph tensor). */
  itemVectors(items: Ids): Tensor;
  /** Every item's vector, row-major [numItems, dim], computed `chunk` items at a time without a graph. */
  itemVectorTable(chunk?: number): Float32Array;
  /**
   * Vectors [n, dim] of n items the model never saw, from their side features (laid out like
   * context.itemFeatures, one row per new item). Absent on models that have nothing but an item's id.
   */
  coldItemVectors?(features: FeatureInputs, n: number): Tensor;
}

export function isDotProduct(model: Recommender): model is DotProductModel {
  return (model as { dotProduct?: unknown }).dotProduct === true;
}

/** A dot-product model that gives items it never saw a vector from their side features. */
export type ColdItemModel = DotProductModel & Required<Pick<DotProductModel, "coldItemVectors">>;

export function hasColdItems(model: DotProductModel): model is ColdItemModel {
  return model.coldItemVectors !== undefined;
}

/** `model.itemVectors` over the whole catalogue, `chunk` items a step, without a graph: [numItems · dim]. */
export function itemVectorTableOf(model: DotProductModel, chunk = 4096): Float32Array {
  const n = model.numItems;
  const vectors = new Float32Array(n * model.dim);
  noGrad(() => {
    for (let start = 0; start < n; start += chunk) {
      const ids = Int32Array.from({ length: Math.min(chunk, n - start) }, (_, k) => start + k);
      vectors.set(model.itemVectors(new Ids(ids)).data, start * model.dim);
      endStep();
    }
  });
  return vectors;
}

/**
 * The queries' user vectors [n · dim] in one forward pass without a graph (it ends the current scratch step):
 * explicit histories are one bag per query; a batch mixing queries with and without one is encoded a query
 * at a time, as the two kinds read different histories.
 */
export function batchUserVectors(model: DotProductModel, queries: readonly UserQuery[]): Float32Array {
  const withHistory = queries.filter((q) => q.history).length;
  if (withHistory !== 0 && withHistory !== queries.length) {
    const out = new Float32Array(queries.length * model.dim);
    queries.forEach((q, k) => out.set(userVectorOf(model, q), k * model.dim));
    return out;
  }
  return noGrad(() => {
    const users = new Ids(Int32Array.from(queries, (q) => q.user));
    let history: HistoryBag | undefined;
    if (withHistory > 0) {
      const offsets = new Int32Array(queries.length);
      let total = 0;
      queries.forEach((q, k) => {
        offsets[k] = total;
        total += q.history!.length;
      });
      const ids = new Int32Array(total);
      queries.forEach((q, k) => ids.set(q.history!, offsets[k]!));
      history = { ids, offsets };
    }
    const vectors = model.userVectors(users, history).data.slice();
    endStep();
    return vectors;
  });
}

/**
 * A model that learns a user vector and an item vector (two-tower, SASRec): everything that follows from them
 * is written once here — the pair score ⟨u, i⟩, list scoring with each list's user encoded once, the hint
 * representation concat(u, i), the retrieval scorer over precomputed item vectors.
 */
export abstract class VectorRecommender extends Recommender implements DotProductModel {
  readonly dotProduct = true;
  readonly retrievalPrecisions: readonly RetrievalPrecision[] = ["f32", "int8"];
  abstract readonly dim: number;
  abstract readonly retrieval: RetrievalPrecision;
  abstract userVectors(users: Ids, history?: HistoryBag, historyEnd?: Int32Array): Tensor;
  abstract itemVectors(items: Ids): Tensor;

  userVector(query: UserQuery): Float32Array {
    return userVectorOf(this, query);
  }

  itemVectorTable(chunk?: number): Float32Array {
    return itemVectorTableOf(this, chunk);
  }

  forward(pairs: Pairs): Tensor {
    return ops.rowDot(this.userVectors(pairs.users, pairs.history, pairs.historyEnd), this.itemVectors(pairs.items));
  }

  /** Each list's user vector is computed once and spread over its items (the history is the costly part). */
  override scoreLists(users: Int32Array, items: Int32Array, historyEnd?: Int32Array): Tensor {
    const [rows, length] = listShape(users, items, historyEnd);
    const u = this.userVectors(new Ids(users), undefined, historyEnd);
    return ops
      .rowDot(ops.embedding(u, listIndex(rows, length)), this.itemVectors(new Ids(items)))
      .reshape([rows, length]);
  }

  /** concat(userVector, itemVector): [n, 2·dim], the input of the final dot product (the hint term's target). */
  override representation(pairs: Pairs): Tensor {
    const u = this.userVectors(pairs.users, pairs.history, pairs.historyEnd);
    return ops.concat([u, this.itemVectors(pairs.items)], -1);
  }

  override get representationDim(): number {
    return 2 * this.dim;
  }

  /** 2·dim: item vectors are precomputed by the scorer, so one more item costs one dot product. */
  flopsPerItem(): number {
    return 2 * this.dim;
  }

  override scorer(): VectorScorer {
    return new VectorScorer(this);
  }
}

/** The query's user vector [1, dim] (a graph tensor); an explicit history is the user's one bag. */
export function queryUserVectors(model: DotProductModel, query: UserQuery): Tensor {
  const users = new Ids(new Int32Array([query.user]));
  const history = query.history ? { ids: query.history, offsets: new Int32Array(1) } : undefined;
  return model.userVectors(users, history);
}

/** `queryUserVectors` as a plain vector [dim], without a graph (it ends the current scratch step). */
export function userVectorOf(model: DotProductModel, query: UserQuery): Float32Array {
  return noGrad(() => {
    const v = queryUserVectors(model, query).data.slice();
    endStep();
    return v;
  });
}

/**
 * Retrieval over the whole catalogue for any dot-product model: every item vector is computed once (on construction, in chunks)
 * and kept on the heap — as a [numItems, dim] float32 tensor scanned by the matVec kernel, or (model
 * retrieval "int8") as an Int8Table with one scale per item; a query encodes its user once and scores
 * all items in one scan. Reflects the parameters at construction: build a new scorer after training.
 * Uses the scratch arena, so any live scratch tensors of the caller are released. Holds the item vectors
 * until dispose().
 */
export class VectorScorer implements Scorer {
  readonly dim: number;
  readonly retrieval: RetrievalPrecision;
  /** The item vectors on the heap, in the retrieval's format. */
  private readonly items: Tensor | Int8Table;

  constructor(
    private readonly model: DotProductModel,
    chunk = 4096,
  ) {
    const n = model.numItems;
    this.dim = model.dim;
    this.retrieval = model.retrieval;
    const vectors = model.itemVectorTable(chunk);
    this.items =
      this.retrieval === "int8"
        ? new Int8Table(quantizeInt8(vectors, n, this.dim))
        : Tensor.from(vectors, [n, this.dim], { persistent: true });
  }

  /**
   * A copy of the item vectors the scorer scans, row-major [numItems, dim] (for ANN indexes and serving):
   * dequantised with int8 retrieval.
   */
  itemVectors(): Float32Array {
    return this.items instanceof Int8Table ? dequantizeInt8(this.items.toMatrix()) : this.items.data.slice();
  }

  /** The query's user vector [dim] (of an explicit history, the recent items the model reads count, as in training). */
  userVector(query: UserQuery): Float32Array {
    return this.model.userVector(query);
  }

  scoreAll(query: UserQuery): Float32Array {
    return noGrad(() => {
      const u = this.encode(query);
      if (this.items instanceof Int8Table) return this.items.scoreAll(u.data);
      const scores = scoreAllRows(this.items, u);
      endStep();
      return scores;
    });
  }

  scoreCandidates(query: UserQuery, items: Int32Array): Float32Array {
    const rows = this.model.numItems;
    for (const i of items) {
      if (!(i >= 0 && i < rows)) throw new RangeError(`VectorScorer: item ${i} is outside the catalogue of ${rows}`);
    }
    return noGrad(() => {
      const u = this.encode(query);
      if (this.items instanceof Int8Table) return this.items.scoreRows(u.data, items);
      const scores = scoreTableRows(this.items, u, items);
      endStep();
      return scores;
    });
  }

  /**
   * Many queries' candidates: their user vectors encoded `chunk` at a time (one forward pass each, where a
   * query at a time pays the model's fixed cost per user), then scored together.
   */
  scoreLists(queries: readonly UserQuery[], lists: readonly Int32Array[], chunk = 512): Float32Array[] {
    if (queries.length !== lists.length) {
      throw new RangeError(`VectorScorer: ${lists.length} candidate lists for ${queries.length} queries`);
    }
    const out: Float32Array[] = [];
    for (let start = 0; start < queries.length; start += chunk) {
      const part = queries.slice(start, start + chunk);
      const partLists = lists.slice(start, start + chunk);
      const vectors = batchUserVectors(this.model, part);
      if (this.items instanceof Int8Table) {
        part.forEach((_, k) =>
          out.push(
            (this.items as Int8Table).scoreRows(vectors.subarray(k * this.dim, (k + 1) * this.dim), partLists[k]!),
          ),
        );
      } else {
        out.push(...scoreTableLists(this.items, vectors, partLists));
      }
    }
    return out;
  }

  /** Release the item vectors. */
  dispose(): void {
    this.items.dispose();
  }

  private encode(query: UserQuery): Tensor {
    return queryUserVectors(this.model, query);
  }
}
