/**
 * The dot-product capability: models whose score is ⟨userVector(u), itemVector(i)⟩ (BPR-MF, two-tower).
 * Their item vectors can be computed once for the whole catalogue, so serving scans an index over them,
 * neighbours come from the same vectors, and online learning grows their id tables and trains the two
 * sides directly. Callers ask `isDotProduct(model)` instead of testing for concrete model classes.
 */
import { Ids } from "../engine/ops/embedding.js";
import { endStep, noGrad, type Tensor } from "../engine/tensor.js";
import type { FeatureInputs, HistoryBag } from "./context.js";
import type { Recommender, UserQuery } from "./recommender.js";

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
