/**
 * A small pointwise ranking student: an MLP over concat(user id embedding, item id embedding, mean-pooled
 * recent-item embedding, user side features, item side features) → one logit. Unlike the two-tower it
 * sees user and item together, so it cannot precompute item vectors: it re-ranks a candidate list.
 */
import { Embedding, MLP, activate } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import type { Tensor } from "../engine/tensor.js";
import { recentItems, type ModelContext } from "./context.js";
import { initOptions, Recommender, type Pairs } from "./recommender.js";
import { FeatureEncoder } from "./features.js";

export interface MLPRankerConfig {
  /** Width of every embedding field (default 16). */
  dim?: number;
  /** Hidden widths of the MLP (default [64, 32]); the output layer (→ 1) is added. */
  hidden?: number[];
  /** Recent items read from the user's history (default 20). */
  maxHistory?: number;
  /** History items look up the item id table (default true) instead of a table of their own. */
  shareItemEmbeddings?: boolean;
  /** Standard deviation of the initial embeddings (default 0.1). */
  initStd?: number;
  seed?: number;
}

export class MLPRanker extends Recommender {
  readonly kind = "mlp-ranker";
  readonly dim: number;
  readonly maxHistory: number;
  /** [input width, ...hidden, 1]. */
  readonly sizes: readonly number[];
  readonly userEmbedding: Embedding;
  readonly itemEmbedding: Embedding;
  /** The history items' own table (null when they share the item id table). */
  readonly historyEmbedding: Embedding | null;
  readonly userFeatures: FeatureEncoder | null;
  readonly itemFeatures: FeatureEncoder | null;
  readonly mlp: MLP;

  constructor(
    readonly config: MLPRankerConfig,
    context: ModelContext,
  ) {
    super(context);
    const dim = (this.dim = config.dim ?? 16);
    this.maxHistory = config.maxHistory ?? 20;
    const opts = initOptions(config);
    const rng = opts.rng;
    this.userEmbedding = this.child("user", new Embedding(context.numUsers + 1, dim, opts));
    this.itemEmbedding = this.child("item", new Embedding(context.numItems, dim, opts));
    this.historyEmbedding =
      (config.shareItemEmbeddings ?? true) ? null : this.child("history", new Embedding(context.numItems, dim, opts));
    const features = this.featureEncoders(dim, opts);
    this.userFeatures = features.user;
    this.itemFeatures = features.item;
    const fields = 3 + (this.userFeatures?.fieldCount ?? 0) + (this.itemFeatures?.fieldCount ?? 0);
    this.sizes = [fields * dim, ...(config.hidden ?? [64, 32]), 1];
    this.mlp = this.child("mlp", new MLP(this.sizes, { rng }));
  }

  /** The MLP's input: every field concatenated, [n, fields·dim]. */
  features(pairs: Pairs): Tensor {
    const { users, items } = pairs;
    const bag = recentItems(this.context, users.values, this.maxHistory, pairs.history, pairs.historyEnd);
    const table = (this.historyEmbedding ?? this.itemEmbedding).weight;
    const fields = [
      this.userEmbedding.forward(users),
      this.itemEmbedding.forward(items),
      ops.embeddingBag(table, bag.ids, bag.offsets, "mean"),
    ];
    if (this.userFeatures) fields.push(...this.userFeatures.forward(users.values));
    if (this.itemFeatures) fields.push(...this.itemFeatures.forward(items.values));
    return ops.concat(fields, -1);
  }

  /** The last hidden layer's activations [n, hidden.at(-1)] (the MLP input when there are no hidden layers). */
  override representation(pairs: Pairs): Tensor {
    let x = this.features(pairs);
    const layers = [...this.mlp.layers];
    for (const layer of layers.slice(0, -1)) x = activate(layer.forward(x), this.mlp.activation);
    return x;
  }

  override get representationDim(): number {
    return this.sizes.at(-2)!;
  }

  forward(pairs: Pairs): Tensor {
    const last = this.mlp.layers.at(this.mlp.layers.length - 1);
    return last.forward(this.representation(pairs)).reshape([pairs.users.length]);
  }

  override get historyLength(): number {
    return this.maxHistory;
  }

  /** 2 × the MLP's multiply-adds (the embedding lookups and pooling are not counted). */
  flopsPerItem(): number {
    let macs = 0;
    for (let i = 0; i + 1 < this.sizes.length; i++) macs += this.sizes[i]! * this.sizes[i + 1]!;
    return 2 * macs;
  }
}
