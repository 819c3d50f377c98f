/** BPR matrix factorisation (Rendle et al. 2009): s(u, i) = ⟨p_u, q_i⟩. Teacher at large dim, student at small. */
import { Embedding } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import type { Ids } from "../engine/ops/embedding.js";
import { Rng } from "../engine/random.js";
import type { Tensor } from "../engine/tensor.js";
import { Recommender } from "./recommender.js";

export interface BPRMFConfig {
  users: number;
  items: number;
  dim: number;
  /** Standard deviation of the initial embeddings. */
  initStd?: number;
  seed?: number;
}

export class BPRMF extends Recommender {
  readonly numUsers: number;
  readonly numItems: number;
  readonly userEmbedding: Embedding;
  readonly itemEmbedding: Embedding;

  constructor(readonly config: BPRMFConfig) {
    super();
    const rng = new Rng(config.seed ?? 0);
    const std = config.initStd ?? 0.1;
    this.numUsers = config.users;
    this.numItems = config.items;
    this.userEmbedding = this.child("user", new Embedding(config.users, config.dim, { rng, std }));
    this.itemEmbedding = this.child("item", new Embedding(config.items, config.dim, { rng, std }));
  }

  forward(users: Ids, items: Ids): Tensor {
    return ops.rowDot(this.userEmbedding.forward(users), this.itemEmbedding.forward(items));
  }

  flopsPerItem(): number {
    return 2 * this.config.dim;
  }

  /** One SIMD scan of the item table against the user's vector. */
  override scoreAll(user: number): Float32Array {
    const { dim } = this.config;
    const table = this.itemEmbedding.weight;
    const rt = table.rt;
    const query = this.userEmbedding.weight.ptr + user * dim * 4;
    const out = rt.scratch.alloc(this.numItems * 4);
    rt.kernels.matVec!(table.ptr, query, this.numItems, dim, out);
    const scores = rt.f32.slice(out >> 2, (out >> 2) + this.numItems);
    rt.scratch.reset();
    return scores;
  }
}
