/**
 * Two-tower retrieval student (YouTube DNN / DSSM style): s(u, i) = ⟨userTower(u), itemTower(i)⟩.
 *
 * The user tower reads the user id (the last row is the shared unknown user), the user's recent items
 * (mean- or attention-pooled) and the user's side features; the item tower reads the item id and the
 * item's side features. Because the score is a plain dot product, item vectors are computed once for the
 * whole catalogue and scoring a user is one SIMD scan (VectorScorer) — the path serving uses, in float32 or,
 * with `retrieval: "int8"`, over int8 item vectors (a quarter of the memory, integer SIMD dot products).
 */
import { idTable, type IdTable, type IdTableSpec } from "../engine/tables.js";
import { AttentionPooling, Embedding, MLP } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { Tensor } from "../engine/tensor.js";
import { recentItems, type FeatureInputs, type HistoryBag, type ModelContext } from "./context.js";
import { FeatureEncoder } from "./features.js";
import { initOptions } from "./recommender.js";
import { VectorRecommender, type RetrievalPrecision } from "./dot-product.js";

export interface TwoTowerConfig {
  /** Width of every embedding and of the final user and item vectors (default 32). */
  dim?: number;
  /** Recent items read from the user's history (default 20). */
  maxHistory?: number;
  /** How the recent items are pooled: their mean, or softmax attention against a learned query. */
  pooling?: "mean" | "attention";
  /** Hidden widths of the user tower's MLP; [] (default) sums the fields instead of concatenating them. */
  userLayers?: number[];
  /** Hidden widths of the item tower's MLP; [] (default) sums the fields. */
  itemLayers?: number[];
  /** Give each user an id embedding (default true); without it users are their history and features. */
  useUserId?: boolean;
  /** How user ids are embedded (default a full table; "qr" or "hashed" for very many users). */
  userTable?: IdTableSpec;
  /** How item ids are embedded, in the item tower and in a history table of their own (default a full table). */
  itemTable?: IdTableSpec;
  /** History items look up the item id table (default true) instead of a table of their own. */
  shareItemEmbeddings?: boolean;
  /** Standard deviation of the initial embeddings (default 0.1). */
  initStd?: number;
  /**
   * How the scorer stores and scans the item vectors: float32 (default), or int8 with one scale per item
   * and the user vector quantised per query (scores within the quantisation error of float32).
   */
  retrieval?: "f32" | "int8";
  seed?: number;
}

/** Field tensors [n, dim] joined into one tower input: summed when there is no MLP, else concatenated. */
function combine(fields: Tensor[], mlp: MLP | null): Tensor {
  if (mlp) return mlp.forward(fields.length === 1 ? fields[0]! : ops.concat(fields, -1));
  let x = fields[0]!;
  for (let f = 1; f < fields.length; f++) x = ops.add(x, fields[f]!);
  return x;
}

export class TwoTower extends VectorRecommender {
  readonly kind = "two-tower";
  readonly dim: number;
  readonly maxHistory: number;
  readonly pooling: "mean" | "attention";
  readonly retrieval: RetrievalPrecision;
  readonly userEmbedding: IdTable | null;
  readonly itemEmbedding: IdTable;
  /** The history items' own table (null when they share the item id table). */
  readonly historyEmbedding: IdTable | null;
  readonly attention: AttentionPooling | null;
  readonly userFeatures: FeatureEncoder | null;
  readonly itemFeatures: FeatureEncoder | null;
  readonly userMlp: MLP | null;
  readonly itemMlp: MLP | null;

  constructor(
    readonly config: TwoTowerConfig,
    context: ModelContext,
  ) {
    super(context);
    const dim = (this.dim = config.dim ?? 32);
    this.maxHistory = config.maxHistory ?? 20;
    this.pooling = config.pooling ?? "mean";
    if (this.pooling !== "mean" && this.pooling !== "attention") {
      throw new RangeError(`TwoTower: pooling must be "mean" or "attention", got "${String(this.pooling)}"`);
    }
    this.retrieval = config.retrieval ?? "f32";
    if (this.retrieval !== "f32" && this.retrieval !== "int8") {
      throw new RangeError(`TwoTower: retrieval must be "f32" or "int8", got "${String(this.retrieval)}"`);
    }
    const opts = initOptions(config);
    const rng = opts.rng;
    const useUserId = config.useUserId ?? true;
    if (config.userTable && !useUserId) throw new RangeError("TwoTower: a userTable needs useUserId");
    this.userEmbedding = useUserId
      ? this.child("user", idTable(config.userTable, context.numUsers + 1, dim, opts))
      : null;
    this.itemEmbedding = this.child("item", idTable(config.itemTable, context.numItems, dim, opts));
    this.historyEmbedding =
      (config.shareItemEmbeddings ?? true)
        ? null
        : this.child("history", idTable(config.itemTable, context.numItems, dim, opts));
    this.attention = this.pooling === "attention" ? this.child("attention", new AttentionPooling(dim, opts)) : null;
    const features = this.featureEncoders(dim, opts);
    this.userFeatures = features.user;
    this.itemFeatures = features.item;
    const userFields = (this.userEmbedding ? 1 : 0) + 1 + (this.userFeatures?.fieldCount ?? 0);
    const itemFields = 1 + (this.itemFeatures?.fieldCount ?? 0);
    const userLayers = config.userLayers ?? [];
    const itemLayers = config.itemLayers ?? [];
    this.userMlp = userLayers.length
      ? this.child("userMlp", new MLP([userFields * dim, ...userLayers, dim], { rng }))
      : null;
    this.itemMlp = itemLayers.length
      ? this.child("itemMlp", new MLP([itemFields * dim, ...itemLayers, dim], { rng }))
      : null;
  }

  /**
   * User vectors [n, dim]. `history` gives each user's recent items (one bag per user, oldest first; the
   * last maxHistory of each are read); without it they come from context.histories (the last maxHistory
   * items before `historyEnd`, or none when the context has no histories).
   */
  userVectors(users: Ids, history?: HistoryBag, historyEnd?: Int32Array): Tensor {
    const bag = recentItems(this.context, users.values, this.maxHistory, history, historyEnd);
    const fields: Tensor[] = [];
    if (this.userEmbedding) fields.push(this.userEmbedding.forward(users));
    fields.push(this.poolHistory(bag));
    if (this.userFeatures) fields.push(...this.userFeatures.forward(users.values));
    return combine(fields, this.userMlp);
  }

  /** Each bag's history items pooled into one vector: [bags, dim]. */
  private poolHistory(bag: HistoryBag): Tensor {
    const table = this.historyEmbedding ?? this.itemEmbedding;
    if (this.attention) return this.attention.forward(table.forward(bag.ids), bag.offsets);
    // A full table pools in one fused lookup; a compositional one composes the bag's rows first.
    if (table instanceof Embedding) return ops.embeddingBag(table.weight, bag.ids, bag.offsets, "mean");
    const positions = Int32Array.from({ length: bag.ids.length }, (_, k) => k);
    return ops.embeddingBag(table.forward(bag.ids), positions, bag.offsets, "mean");
  }

  /** Item vectors [n, dim]. */
  itemVectors(items: Ids): Tensor {
    const fields = [this.itemEmbedding.forward(items)];
    if (this.itemFeatures) fields.push(...this.itemFeatures.forward(items.values));
    return combine(fields, this.itemMlp);
  }

  /**
   * Vectors [n, dim] of n items the model never saw, from their side features alone (`features` laid out
   * like context.itemFeatures, one row per new item): their id field is zero, as an id nobody trained.
   * Without item features every new item gets the same vector.
   */
  coldItemVectors(features: FeatureInputs, n: number): Tensor {
    const fields = [Tensor.zeros([n, this.dim])];
    const rows = Int32Array.from({ length: n }, (_, r) => r);
    if (this.itemFeatures) fields.push(...this.itemFeatures.forward(rows, features));
    return combine(fields, this.itemMlp);
  }

  override get historyLength(): number {
    return this.maxHistory;
  }
}
